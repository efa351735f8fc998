"""Low-level OpenPGP packet helpers (RFC 9580) that pysequoia does not expose.

* parsing key packets (algorithm, size, curve) for the key checks;
* PKESKv3 + SEIPDv1 (AES-256, MDC) messages for v4 recipients, so that GnuPG 2.2 can read them
  even when the key also advertises SEIPDv2 (Sequoia- and OpenPGP.js-made v4 keys do);
* S2K (iterated and salted SHA-256, AES-256-CFB) protection of secret key packets, because
  pysequoia generates unprotected keys.

Private to ``services.crypto``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESOCB3
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

try:  # cryptography >= 43 keeps CFB among the "decrepit" modes
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover
    from cryptography.hazmat.primitives.ciphers.modes import CFB
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

# Packet tags
TAG_PKESK = 1
TAG_SIGNATURE = 2
TAG_SECRET_KEY = 5
TAG_PUBLIC_KEY = 6
TAG_SECRET_SUBKEY = 7
TAG_SEIPD = 18
TAG_LITERAL = 11
TAG_USER_ID = 13
TAG_PUBLIC_SUBKEY = 14

# Public-key algorithms
ALG_RSA = 1
ALG_RSA_E = 2
ALG_RSA_S = 3
ALG_ELGAMAL = 16
ALG_DSA = 17
ALG_ECDH = 18
ALG_ECDSA = 19
ALG_ELGAMAL_ES = 20
ALG_EDDSA_LEGACY = 22
ALG_X25519 = 25
ALG_X448 = 26
ALG_ED25519 = 27
ALG_ED448 = 28

SYM_AES128 = 7
SYM_AES192 = 8
SYM_AES256 = 9
HASH_SHA256 = 8
HASH_SHA384 = 9
HASH_SHA512 = 10

CURVES: dict[bytes, str] = {
    bytes.fromhex("2B06010401DA470F01"): "ed25519",
    bytes.fromhex("2B060104019755010501"): "cv25519",
    bytes.fromhex("2A8648CE3D030107"): "nistp256",
    bytes.fromhex("2B81040022"): "nistp384",
    bytes.fromhex("2B81040023"): "nistp521",
    bytes.fromhex("2B2403030208010107"): "brainpoolP256r1",
    bytes.fromhex("2B240303020801010B"): "brainpoolP384r1",
    bytes.fromhex("2B240303020801010D"): "brainpoolP512r1",
    bytes.fromhex("2B0601040197550105"): "x448",
    bytes.fromhex("2B6571"): "ed448",
}

_NIST: dict[str, ec.EllipticCurve] = {
    "nistp256": ec.SECP256R1(),
    "nistp384": ec.SECP384R1(),
    "nistp521": ec.SECP521R1(),
}

_HASHES = {HASH_SHA256: "sha256", HASH_SHA384: "sha384", HASH_SHA512: "sha512"}
_SYM_KEYLEN = {SYM_AES128: 16, SYM_AES192: 24, SYM_AES256: 32}


class PacketError(ValueError):
    """Malformed or unsupported packet data."""


# ---------------------------------------------------------------- framing


def frame(tag: int, body: bytes) -> bytes:
    """A packet in OpenPGP (new) format with a definite length."""
    n = len(body)
    if n < 192:
        head = bytes([n])
    elif n < 8384:
        n2 = n - 192
        head = bytes([(n2 >> 8) + 192, n2 & 0xFF])
    else:
        head = b"\xff" + struct.pack(">I", n)
    return bytes([0xC0 | tag]) + head + body


def iter_packets(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(tag, body) of each packet in binary OpenPGP data. A packet with partial body lengths
    ends the iteration: its "body" is everything after its first length octet (the first octets
    are right, later chunk headers are left in)."""
    i = 0
    while i < len(data):
        ctb = data[i]
        if not ctb & 0x80:
            raise PacketError("not an OpenPGP packet")
        if ctb & 0x40:
            tag = ctb & 0x3F
            first = _byte(data, i + 1)
            if first < 192:
                n, i = first, i + 2
            elif first < 224:
                n, i = ((first - 192) << 8) + _byte(data, i + 2) + 192, i + 3
            elif first == 255:
                if i + 6 > len(data):
                    raise PacketError("truncated packet")
                n, i = struct.unpack(">I", data[i + 2 : i + 6])[0], i + 6
            else:  # partial body length: hand out the rest (chunk headers included) and stop
                yield tag, data[i + 2 :]
                return
        else:
            tag = (ctb >> 2) & 0x0F
            ltype = ctb & 3
            if ltype == 3:
                raise PacketError("indeterminate length")
            size = (1, 2, 4)[ltype]
            if i + 1 + size > len(data):
                raise PacketError("truncated packet")
            n = int.from_bytes(data[i + 1 : i + 1 + size], "big")
            i += 1 + size
        if i + n > len(data):
            raise PacketError("truncated packet")
        yield tag, data[i : i + n]
        i += n


def _byte(data: bytes, i: int) -> int:
    if i >= len(data):
        raise PacketError("truncated packet")
    return data[i]


def mpi(value: bytes) -> bytes:
    """Encode big-endian bytes as an MPI (leading zeros stripped)."""
    value = value.lstrip(b"\x00")
    bits = (len(value) - 1) * 8 + value[0].bit_length() if value else 0
    return struct.pack(">H", bits) + value


def read_mpi(data: bytes, i: int) -> tuple[bytes, int]:
    if i + 2 > len(data):
        raise PacketError("truncated MPI")
    bits = struct.unpack(">H", data[i : i + 2])[0]
    n = (bits + 7) // 8
    if i + 2 + n > len(data):
        raise PacketError("truncated MPI")
    return data[i + 2 : i + 2 + n], i + 2 + n


# ---------------------------------------------------------------- key packets


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """The public part of a key packet."""

    version: int
    algorithm: int
    created: int
    public_end: int  # offset in the body where the public part ends
    bits: int  # RSA/DSA/ElGamal modulus size; curve size for ECC
    curve: str | None
    fields: tuple[bytes, ...]  # algorithm-specific public fields (raw MPI/octet values)
    kdf: bytes | None  # ECDH KDF parameters (hash id, sym id)
    body: bytes

    @property
    def name(self) -> str:
        """``rsa3072``, ``ed25519``, ``cv25519``, ``x25519``, ``dsa1024`` …"""
        if self.algorithm in (ALG_RSA, ALG_RSA_E, ALG_RSA_S):
            return f"rsa{self.bits}"
        if self.algorithm == ALG_DSA:
            return f"dsa{self.bits}"
        if self.algorithm in (ALG_ELGAMAL, ALG_ELGAMAL_ES):
            return f"elgamal{self.bits}"
        fixed = {ALG_X25519: "x25519", ALG_X448: "x448", ALG_ED25519: "ed25519", ALG_ED448: "ed448"}
        if self.algorithm in fixed:
            return fixed[self.algorithm]
        return self.curve or f"algo{self.algorithm}"

    def fingerprint(self) -> bytes:
        return _fingerprint(self.version, self.body[: self.public_end])

    def key_id(self) -> bytes:
        fpr = self.fingerprint()
        return fpr[-8:] if self.version == 4 else fpr[:8]


@functools.lru_cache(maxsize=4096)
def _fingerprint(version: int, pub: bytes) -> bytes:
    if version == 4:
        return hashlib.sha1(b"\x99" + struct.pack(">H", len(pub)) + pub).digest()
    if version == 6:
        return hashlib.sha256(b"\x9b" + struct.pack(">I", len(pub)) + pub).digest()
    raise PacketError(f"unsupported key version {version}")


@functools.lru_cache(maxsize=4096)
def _x25519_public(raw: bytes) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(raw)


def parse_key(body: bytes) -> KeyMaterial:
    """Parse the public part of a (public or secret) key packet body."""
    if len(body) < 6:
        raise PacketError("key packet too short")
    version = body[0]
    created = struct.unpack(">I", body[1:5])[0]
    algo = body[5]
    if version == 4:
        i = 6
    elif version == 6:
        if len(body) < 10:
            raise PacketError("key packet too short")
        i = 10
    else:
        raise PacketError(f"unsupported key version {version}")
    fields: list[bytes] = []
    curve: str | None = None
    kdf: bytes | None = None
    bits = 0
    if algo in (ALG_RSA, ALG_RSA_E, ALG_RSA_S):
        n, i = read_mpi(body, i)
        e, i = read_mpi(body, i)
        fields = [n, e]
        bits = _bits(n)
    elif algo == ALG_DSA:
        for _ in range(4):
            v, i = read_mpi(body, i)
            fields.append(v)
        bits = _bits(fields[0])
    elif algo in (ALG_ELGAMAL, ALG_ELGAMAL_ES):
        for _ in range(3):
            v, i = read_mpi(body, i)
            fields.append(v)
        bits = _bits(fields[0])
    elif algo in (ALG_ECDH, ALG_ECDSA, ALG_EDDSA_LEGACY):
        olen = _byte(body, i)
        oid = body[i + 1 : i + 1 + olen]
        i += 1 + olen
        curve = CURVES.get(oid, "unknown-curve")
        point, i = read_mpi(body, i)
        fields = [oid, point]
        if algo == ALG_ECDH:
            klen = _byte(body, i)
            kdf = body[i + 1 : i + 1 + klen]
            i += 1 + klen
        bits = {"nistp384": 384, "nistp521": 521, "ed448": 448, "x448": 448}.get(curve, 256)
    elif algo in (ALG_X25519, ALG_ED25519):
        fields = [body[i : i + 32]]
        i += 32
        bits = 256
    elif algo == ALG_X448:
        fields = [body[i : i + 56]]
        i += 56
        bits = 448
    elif algo == ALG_ED448:
        fields = [body[i : i + 57]]
        i += 57
        bits = 448
    else:
        raise PacketError(f"unsupported public-key algorithm {algo}")
    if i > len(body):
        raise PacketError("truncated key packet")
    return KeyMaterial(version, algo, created, i, bits, curve, tuple(fields), kdf, body)


def _bits(v: bytes) -> int:
    v = v.lstrip(b"\x00")
    return (len(v) - 1) * 8 + v[0].bit_length() if v else 0


# ---------------------------------------------------------------- PKESKv3 + SEIPDv1


def can_encrypt_v1(key: KeyMaterial) -> bool:
    """Whether :func:`pkesk_v3` supports this (v4) encryption key."""
    if key.version != 4:
        return False
    if key.algorithm in (ALG_RSA, ALG_RSA_E):
        return True
    return key.algorithm == ALG_ECDH and key.curve in ("cv25519", *_NIST)


def pkesk_v3(key: KeyMaterial, session_key: bytes, sym: int = SYM_AES256) -> bytes:
    """A version 3 Public-Key Encrypted Session Key packet (framed)."""
    checksum = struct.pack(">H", sum(session_key) & 0xFFFF)
    m = bytes([sym]) + session_key + checksum
    head = bytes([3]) + key.key_id() + bytes([key.algorithm])
    if key.algorithm in (ALG_RSA, ALG_RSA_E):
        n = int.from_bytes(key.fields[0], "big")
        e = int.from_bytes(key.fields[1], "big")
        pub = rsa.RSAPublicNumbers(e, n).public_key()
        c = pub.encrypt(m, asym_padding.PKCS1v15())
        return frame(TAG_PKESK, head + mpi(c))
    if key.algorithm != ALG_ECDH or key.kdf is None or len(key.kdf) < 3:
        raise PacketError("unsupported encryption key")
    hash_id, kek_sym = key.kdf[1], key.kdf[2]
    if hash_id not in _HASHES or kek_sym not in _SYM_KEYLEN:
        raise PacketError("unsupported ECDH KDF parameters")
    oid, point = key.fields
    if key.curve == "cv25519":
        if len(point) != 33 or point[0] != 0x40:
            raise PacketError("bad Curve25519 point")
        eph = X25519PrivateKey.generate()
        shared = eph.exchange(_x25519_public(point[1:]))
        v = b"\x40" + eph.public_key().public_bytes_raw()
    elif key.curve in _NIST:
        curve = _NIST[key.curve]
        eph_ec = ec.generate_private_key(curve)
        peer = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
        shared = eph_ec.exchange(ec.ECDH(), peer)
        v = eph_ec.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    else:
        raise PacketError("unsupported ECDH curve")
    param = _ecdh_param(oid, hash_id, kek_sym, key.fingerprint())
    kek = hashlib.new(_HASHES[hash_id], b"\x00\x00\x00\x01" + shared + param).digest()
    kek = kek[: _SYM_KEYLEN[kek_sym]]
    pad = 8 - len(m) % 8
    wrapped = aes_key_wrap(kek, m + bytes([pad]) * pad)
    return frame(TAG_PKESK, head + mpi(v) + bytes([len(wrapped)]) + wrapped)


@functools.lru_cache(maxsize=4096)
def _ecdh_param(oid: bytes, hash_id: int, kek_sym: int, fingerprint: bytes) -> bytes:
    """The ECDH KDF "Param" (RFC 9580 11.5): curve, algorithm, KDF parameters, fingerprint."""
    head = bytes([len(oid)]) + oid + bytes([ALG_ECDH, 3, 1, hash_id, kek_sym])
    return head + b"Anonymous Sender    " + fingerprint


def seipd_v1(session_key: bytes, plaintext_packets: bytes) -> bytes:
    """A version 1 SEIPD packet (AES-256-CFB, MDC), framed."""
    prefix = os.urandom(16)
    prefix += prefix[-2:]
    body = prefix + plaintext_packets + b"\xd3\x14"
    mdc = hashlib.sha1(body).digest()
    enc = Cipher(algorithms.AES256(session_key), CFB(b"\x00" * 16)).encryptor()
    ct = enc.update(body + mdc) + enc.finalize()
    return frame(TAG_SEIPD, b"\x01" + ct)


def encrypt_v1(key: KeyMaterial, plaintext_packets: bytes) -> bytes:
    """PKESKv3 + SEIPDv1 message (binary) around already-built plaintext packets."""
    session_key = os.urandom(32)
    return pkesk_v3(key, session_key) + seipd_v1(session_key, plaintext_packets)


# ---------------------------------------------------------------- secret key protection


def _s2k_key(passphrase: bytes, salt: bytes, count: int) -> bytes:
    data = salt + passphrase
    full, rest = divmod(max(count, len(data)), len(data))
    h = hashlib.sha256()
    h.update(data * full + data[:rest])
    return h.digest()


S2K_COUNT_BYTE = 0xF0  # 33,554,432 octets hashed


def _decode_count(c: int) -> int:
    return (16 + (c & 15)) << ((c >> 4) + 6)


def protect_secret_key_packet(body: bytes, passphrase: str) -> bytes:
    """Re-encode an unprotected secret (sub)key packet body with S2K usage 254:
    iterated+salted SHA-256, AES-256-CFB, SHA-1 integrity (v4 and v6)."""
    key = parse_key(body)
    i = key.public_end
    usage = _byte(body, i)
    if usage != 0:
        raise PacketError("secret key is already protected")
    # v4 ends with a two-octet checksum when unprotected; v6 has none
    secret = body[i + 1 : -2] if key.version == 4 else body[i + 1 :]
    salt = os.urandom(8)
    s2k = bytes([3, HASH_SHA256]) + salt + bytes([S2K_COUNT_BYTE])
    k = _s2k_key(passphrase.encode(), salt, _decode_count(S2K_COUNT_BYTE))
    iv = os.urandom(16)
    enc = Cipher(algorithms.AES256(k), CFB(iv)).encryptor()
    ct = enc.update(secret + hashlib.sha1(secret).digest()) + enc.finalize()
    public = body[: key.public_end]
    if key.version == 4:
        return public + bytes([254, SYM_AES256]) + s2k + iv + ct
    # v6: usage, count of conditional fields, sym, S2K length, S2K, IV
    cond = bytes([SYM_AES256, len(s2k)]) + s2k + iv
    return public + bytes([254, len(cond)]) + cond + ct


def protect_transferable_secret_key(data: bytes, passphrase: str) -> bytes:
    """Protect every secret key packet of a binary transferable secret key."""
    out = bytearray()
    for tag, body in iter_packets(data):
        if tag in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
            out += frame(tag, protect_secret_key_packet(body, passphrase))
        else:
            out += frame(tag, body)
    return bytes(out)


# ---------------------------------------------------------------- armor, literal data


def crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def dearmor(text: bytes) -> bytes:
    """Binary data of the first ASCII-armored block (headers skipped, CRC checked if present)."""
    lines = text.replace(b"\r\n", b"\n").split(b"\n")
    start = next(
        (n for n, ln in enumerate(lines) if ln.strip().startswith(b"-----BEGIN PGP ")), None
    )
    if start is None:
        raise PacketError("no armor header")
    n = start + 1
    while n < len(lines) and lines[n].strip() and b":" in lines[n]:
        n += 1  # armor headers ("Comment: ...")
    body: list[bytes] = []
    crc: bytes | None = None
    for ln in lines[n:]:
        ln = ln.strip()
        if ln.startswith(b"-----END PGP "):
            break
        if ln.startswith(b"=") and len(ln) == 5:
            crc = ln[1:]
            continue
        body.append(ln)
    else:
        raise PacketError("no armor footer")
    try:
        data = base64.b64decode(b"".join(body), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PacketError("bad armor") from exc
    if crc is not None:
        try:
            want = int.from_bytes(base64.b64decode(crc, validate=True), "big")
        except (binascii.Error, ValueError) as exc:
            raise PacketError("bad armor checksum") from exc
        if want != crc24(data):
            raise PacketError("armor checksum mismatch")
    return data


def armor_message(binary: bytes) -> str:
    """ASCII armor for a message, without the optional CRC-24 line (RFC 9580 6.1: receivers must
    accept its absence; GnuPG 2.2 and OpenPGP.js do). Lines of 76 characters."""
    text = binascii.b2a_base64(binary, newline=False).decode("ascii")
    body = "\n".join([text[i : i + 76] for i in range(0, len(text), 76)])
    return f"-----BEGIN PGP MESSAGE-----\n\n{body}\n-----END PGP MESSAGE-----\n"


def literal_packet(data: bytes) -> bytes:
    """A binary Literal Data packet (no file name, no date)."""
    return frame(TAG_LITERAL, b"b\x00\x00\x00\x00\x00" + data)


# ---------------------------------------------------------------- v4 key generation


def _subpacket(kind: int, data: bytes, *, critical: bool = False) -> bytes:
    body = bytes([kind | (0x80 if critical else 0)]) + data
    n = len(body)
    if n < 192:
        return bytes([n]) + body
    n2 = n - 192
    return bytes([(n2 >> 8) + 192, n2 & 0xFF]) + body


def _v4_signature(
    sig_type: int,
    signer: Ed25519PrivateKey,
    issuer: KeyMaterial,
    hashed_prefix: bytes,
    hashed: bytes,
) -> bytes:
    """A v4 EdDSA(legacy) SHA-256 signature packet body over ``hashed_prefix``."""
    fpr = issuer.fingerprint()
    hashed = hashed + _subpacket(33, b"\x04" + fpr)
    trailer = bytes([4, sig_type, ALG_EDDSA_LEGACY, HASH_SHA256]) + struct.pack(">H", len(hashed))
    trailer += hashed
    digest = hashlib.sha256(
        hashed_prefix + trailer + b"\x04\xff" + struct.pack(">I", len(trailer))
    ).digest()
    sig = signer.sign(digest)
    unhashed = _subpacket(16, fpr[-8:])
    return (
        trailer
        + struct.pack(">H", len(unhashed))
        + unhashed
        + digest[:2]
        + mpi(sig[:32])
        + mpi(sig[32:])
    )


def _framed_for_hash(key: KeyMaterial) -> bytes:
    pub = key.body[: key.public_end]
    return b"\x99" + struct.pack(">H", len(pub)) + pub


def _unprotected(key: KeyMaterial, secret: bytes) -> bytes:
    return key.body[: key.public_end] + b"\x00" + secret + struct.pack(">H", sum(secret) & 0xFFFF)


def build_v4_curve25519_key(user_id: str, passphrase: str, created: int | None = None) -> bytes:
    """A binary v4 transferable secret key as GnuPG makes it: Ed25519 primary key (certify,
    sign) and a Curve25519 ECDH subkey (encrypt), preferences AES-256/SHA-256 and the features
    flag for SEIPDv1 only, so every sender (not only Libral) uses a format GnuPG 2.2 reads.
    Secret parts protected with ``passphrase``."""
    when = int(time.time()) if created is None else created
    ed = Ed25519PrivateKey.generate()
    cv = X25519PrivateKey.generate()
    ed_pub = ed.public_key().public_bytes_raw()
    cv_pub = cv.public_key().public_bytes_raw()
    ed_oid = bytes.fromhex("2B06010401DA470F01")
    cv_oid = bytes.fromhex("2B060104019755010501")
    primary = parse_key(
        struct.pack(">BIB", 4, when, ALG_EDDSA_LEGACY)
        + bytes([len(ed_oid)])
        + ed_oid
        + mpi(b"\x40" + ed_pub)
    )
    subkey = parse_key(
        struct.pack(">BIB", 4, when, ALG_ECDH)
        + bytes([len(cv_oid)])
        + cv_oid
        + mpi(b"\x40" + cv_pub)
        + bytes([3, 1, HASH_SHA256, SYM_AES256])
    )
    uid = user_id.encode()
    created_sp = _subpacket(2, struct.pack(">I", when), critical=True)
    uid_hashed = (
        created_sp
        + _subpacket(27, b"\x03", critical=True)  # certify + sign
        + _subpacket(11, bytes([SYM_AES256, SYM_AES192, SYM_AES128]))
        + _subpacket(21, bytes([HASH_SHA512, HASH_SHA384, HASH_SHA256]))
        + _subpacket(22, bytes([2, 3, 1]))  # zlib, bzip2, zip
        + _subpacket(30, b"\x01")  # features: SEIPDv1 only
    )
    uid_sig = _v4_signature(
        0x13,
        ed,
        primary,
        _framed_for_hash(primary) + b"\xb4" + struct.pack(">I", len(uid)) + uid,
        uid_hashed,
    )
    sub_hashed = created_sp + _subpacket(27, b"\x0c", critical=True)  # encrypt comms + storage
    sub_sig = _v4_signature(
        0x18, ed, primary, _framed_for_hash(primary) + _framed_for_hash(subkey), sub_hashed
    )
    ed_secret = mpi(ed.private_bytes_raw())
    cv_secret = mpi(cv.private_bytes_raw()[::-1])  # stored big-endian for legacy Curve25519
    tsk = (
        frame(TAG_SECRET_KEY, _unprotected(primary, ed_secret))
        + frame(TAG_USER_ID, uid)
        + frame(TAG_SIGNATURE, uid_sig)
        + frame(TAG_SECRET_SUBKEY, _unprotected(subkey, cv_secret))
        + frame(TAG_SIGNATURE, sub_sig)
    )
    return protect_transferable_secret_key(tsk, passphrase)


# ---------------------------------------------------------------- fast path: own signatures,
# PKESKv6 + SEIPDv2 (X25519, AES-256-OCB). Used by the Sequoia engine for the record hot path
# (one OpenSSL Ed25519 signature and one X25519 agreement per record); checked by Sequoia, GnuPG
# and OpenPGP.js in the tests.

TAG_OPS = 4
OCB_NONCE = 15
OCB_TAG = 16
CHUNK_OCTET = 16  # chunks of 2^(16+6) = 4 MiB: a record is one chunk


def unprotect_secret_key_packet(body: bytes, passphrase: str | None) -> tuple[KeyMaterial, bytes]:
    """The public part and the plaintext secret material of a secret key packet (S2K usage 0
    or 254 with iterated+salted S2K and AES CFB, as we and GnuPG write them)."""
    key = parse_key(body)
    i = key.public_end
    usage = _byte(body, i)
    if usage == 0:
        return key, (body[i + 1 : -2] if key.version == 4 else body[i + 1 :])
    if usage != 254:
        raise PacketError(f"unsupported S2K usage {usage}")
    if key.version == 6:
        i += 2  # usage, count of conditional fields
        sym = _byte(body, i)
        i += 2  # sym, S2K specifier length
    else:
        sym = _byte(body, i + 1)
        i += 2
    if sym not in _SYM_KEYLEN or _byte(body, i) != 3:
        raise PacketError("unsupported secret key protection")
    hash_id = _byte(body, i + 1)
    salt = body[i + 2 : i + 10]
    count = _decode_count(_byte(body, i + 10))
    i += 11
    if hash_id not in (2, HASH_SHA256, HASH_SHA384, HASH_SHA512):
        raise PacketError("unsupported S2K hash")
    if passphrase is None:
        raise PacketError("the secret key is protected")
    keylen = _SYM_KEYLEN[sym]
    name = {2: "sha1", HASH_SHA256: "sha256", HASH_SHA384: "sha384", HASH_SHA512: "sha512"}
    derived = b""
    preload = 0
    while len(derived) < keylen:
        data = salt + passphrase.encode()
        full, rest = divmod(max(count, len(data)), len(data))
        h = hashlib.new(name[hash_id])
        h.update(b"\x00" * preload + data * full + data[:rest])
        derived += h.digest()
        preload += 1
    iv, ct = body[i : i + 16], body[i + 16 :]
    algo = algorithms.AES256 if keylen == 32 else algorithms.AES
    dec = Cipher(algo(derived[:keylen]), CFB(iv)).decryptor()
    plain = dec.update(ct) + dec.finalize()
    secret, check = plain[:-20], plain[-20:]
    if hashlib.sha1(secret).digest() != check:
        raise PacketError("wrong passphrase")
    return key, secret


def ed25519_seed(key: KeyMaterial, secret: bytes) -> bytes:
    """The 32-octet Ed25519 private seed of an EdDSA (legacy) or Ed25519 signing key."""
    if key.algorithm == ALG_EDDSA_LEGACY and key.curve == "ed25519":
        value, _ = read_mpi(secret, 0)
        return value.rjust(32, b"\x00")
    if key.algorithm == ALG_ED25519 and len(secret) >= 32:
        return secret[:32]
    raise PacketError("not an Ed25519 signing key")


@dataclass(frozen=True, slots=True)
class FastSigner:
    """A v4 Ed25519 signing key held by OpenSSL."""

    private: Ed25519PrivateKey
    key: KeyMaterial

    def signed_packets(self, data: bytes, when: int | None = None) -> bytes:
        """One-pass signature + literal data + v4 binary signature (SHA-512) packets."""
        key_id = self.key.key_id()
        created = int(time.time()) if when is None else when
        ops = frame(TAG_OPS, bytes([3, 0x00, HASH_SHA512, self.key.algorithm]) + key_id + b"\x01")
        hashed = _subpacket(2, struct.pack(">I", created), critical=True)
        hashed += _subpacket(33, b"\x04" + self.key.fingerprint())
        trailer = bytes([4, 0x00, self.key.algorithm, HASH_SHA512])
        trailer += struct.pack(">H", len(hashed)) + hashed
        digest = hashlib.sha512(
            data + trailer + b"\x04\xff" + struct.pack(">I", len(trailer))
        ).digest()
        signature = self.private.sign(digest)
        unhashed = _subpacket(16, key_id)
        if self.key.algorithm == ALG_EDDSA_LEGACY:
            material = mpi(signature[:32]) + mpi(signature[32:])
        else:
            material = signature
        sig = trailer + struct.pack(">H", len(unhashed)) + unhashed + digest[:2] + material
        return ops + literal_packet(data) + frame(TAG_SIGNATURE, sig)


def fast_signer(secret_binary: bytes, key_id: bytes, passphrase: str | None) -> FastSigner:
    """The OpenSSL signer for the (v4, Ed25519) key with ``key_id`` in a transferable secret key."""
    for tag, body in iter_packets(secret_binary):
        if tag not in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
            continue
        key = parse_key(body)
        if key.key_id() != key_id:
            continue
        if key.version != 4:
            raise PacketError("fast signing needs a v4 key")
        key, secret = unprotect_secret_key_packet(body, passphrase)
        return FastSigner(Ed25519PrivateKey.from_private_bytes(ed25519_seed(key, secret)), key)
    raise PacketError("signing key not found")


def can_encrypt_v2(key: KeyMaterial) -> bool:
    return key.version == 6 and key.algorithm == ALG_X25519


def pkesk_v6_x25519(key: KeyMaterial, session_key: bytes) -> bytes:
    """A version 6 PKESK for an X25519 key (RFC 9580 5.1.6), framed."""
    recipient = key.fields[0]
    eph = X25519PrivateKey.generate()
    eph_pub = eph.public_key().public_bytes_raw()
    shared = eph.exchange(_x25519_public(recipient))
    kek = HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=b"OpenPGP X25519").derive(
        eph_pub + recipient + shared
    )
    wrapped = aes_key_wrap(kek, session_key)
    fpr = key.fingerprint()
    body = bytes([6, 1 + len(fpr), 6]) + fpr + bytes([ALG_X25519]) + eph_pub
    return frame(TAG_PKESK, body + bytes([len(wrapped)]) + wrapped)


def seipd_v2_ocb(session_key: bytes, plaintext_packets: bytes) -> bytes:
    """A version 2 SEIPD packet, AES-256-OCB, one chunk plus the final tag, framed."""
    salt = os.urandom(32)
    info = bytes([0xC0 | TAG_SEIPD, 2, SYM_AES256, 2, CHUNK_OCTET])
    okm = HKDF(algorithm=hashes.SHA256(), length=32 + OCB_NONCE - 8, salt=salt, info=info).derive(
        session_key
    )
    ocb = AESOCB3(okm[:32])
    iv = okm[32:]
    chunk_size = 1 << (CHUNK_OCTET + 6)
    out = bytearray()
    index = 0
    for start in range(0, max(len(plaintext_packets), 1), chunk_size):
        chunk = plaintext_packets[start : start + chunk_size]
        out += ocb.encrypt(iv + struct.pack(">Q", index), chunk, info)
        index += 1
    final_ad = info + struct.pack(">Q", len(plaintext_packets))
    out += ocb.encrypt(iv + struct.pack(">Q", index), b"", final_ad)
    return frame(TAG_SEIPD, info[1:] + salt + bytes(out))


def encrypt_v2(key: KeyMaterial, plaintext_packets: bytes) -> bytes:
    """PKESKv6 (X25519) + SEIPDv2 (AES-256-OCB) message, binary."""
    session_key = os.urandom(32)
    return pkesk_v6_x25519(key, session_key) + seipd_v2_ocb(session_key, plaintext_packets)
