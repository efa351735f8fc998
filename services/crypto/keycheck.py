"""Engine-independent checks of key material offered by users, and small read-only looks into
messages (which container, which recipients).

Packets are parsed by pysequoia (:class:`pysequoia.packet.PacketPile`); this module only reads a
few fixed fields of key and PKESK packet bodies (algorithm, key size, curve, recipient id) that
pysequoia does not expose. Nothing here writes OpenPGP data or does cryptography.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pysequoia import packet as pk

from services.crypto.port import KeyErrorKind, KeyImportError, MessageFormat

ALG_RSA, ALG_RSA_E, ALG_RSA_S = 1, 2, 3
ALG_ELGAMAL, ALG_DSA, ALG_ECDH, ALG_ECDSA, ALG_ELGAMAL_ES, ALG_EDDSA_LEGACY = 16, 17, 18, 19, 20, 22
ALG_X25519, ALG_X448, ALG_ED25519, ALG_ED448 = 25, 26, 27, 28

_RSA_LIKE = (ALG_RSA, ALG_RSA_E, ALG_RSA_S, ALG_DSA, ALG_ELGAMAL, ALG_ELGAMAL_ES)
_FIXED = {ALG_X25519: "x25519", ALG_X448: "x448", ALG_ED25519: "ed25519", ALG_ED448: "ed448"}
_CURVES: dict[bytes, str] = {
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
_SUPPORTED_CURVES = ("ed25519", "cv25519", "nistp256", "nistp384", "nistp521", "ed448", "x448")
MIN_RSA_BITS = 2048
_KEY_TAGS = (pk.Tag.PublicKey, pk.Tag.PublicSubkey, pk.Tag.SecretKey, pk.Tag.SecretSubkey)


@dataclass(frozen=True, slots=True)
class KeyFacts:
    """What the checks need of one key packet."""

    version: int
    algorithm: int
    created: datetime
    bits: int  # RSA/DSA/ElGamal modulus size; 0 for elliptic curves
    curve: str | None
    key_id: str  # upper-case hex
    fingerprint: str  # upper-case hex

    @property
    def name(self) -> str:
        """``rsa3072``, ``ed25519``, ``cv25519``, ``x25519``, ``dsa1024`` …"""
        if self.algorithm in (ALG_RSA, ALG_RSA_E, ALG_RSA_S):
            return f"rsa{self.bits}"
        if self.algorithm == ALG_DSA:
            return f"dsa{self.bits}"
        if self.algorithm in (ALG_ELGAMAL, ALG_ELGAMAL_ES):
            return f"elgamal{self.bits}"
        return _FIXED.get(self.algorithm) or self.curve or f"algo{self.algorithm}"


@dataclass(frozen=True, slots=True)
class ParsedKeyBlock:
    """The key packets of one public key block, primary first."""

    primary: KeyFacts
    subkeys: tuple[KeyFacts, ...]
    binary: bytes


def tag_of(packet: pk.Packet) -> pk.Tag | None:
    """The packet's tag; ``None`` for tags pysequoia has no name for (private, reserved)."""
    try:
        return packet.tag
    except (RuntimeError, ValueError):
        return None


def key_facts(packet: pk.Packet) -> KeyFacts:
    """Facts of a key packet. Raises :class:`KeyImportError` (``UNSUPPORTED``)."""
    body = packet.body
    if len(body) < 8 or body[0] not in (4, 6):
        raise KeyImportError(KeyErrorKind.UNSUPPORTED, "key version")
    if packet.fingerprint is None or packet.key_id is None or packet.key_created is None:
        raise KeyImportError(KeyErrorKind.UNSUPPORTED, "key packet")
    algorithm = body[5]
    at = 6 if body[0] == 4 else 10  # v6 adds a four-octet key material length
    bits, curve = 0, None
    if algorithm in _RSA_LIKE:
        if len(body) < at + 2:
            raise KeyImportError(KeyErrorKind.UNSUPPORTED, "truncated key packet")
        bits = int.from_bytes(body[at : at + 2], "big")  # the first MPI's bit count
    elif algorithm in (ALG_ECDH, ALG_ECDSA, ALG_EDDSA_LEGACY):
        size = body[at] if len(body) > at else 0
        curve = _CURVES.get(bytes(body[at + 1 : at + 1 + size]), "unknown-curve")
    elif algorithm not in _FIXED:
        raise KeyImportError(KeyErrorKind.UNSUPPORTED, f"public-key algorithm {algorithm}")
    return KeyFacts(
        version=body[0],
        algorithm=algorithm,
        created=packet.key_created.astimezone(UTC),
        bits=bits,
        curve=curve,
        key_id=packet.key_id.upper(),
        fingerprint=packet.fingerprint.upper(),
    )


def check_strength(key: KeyFacts) -> None:
    """Refuse weak or unsupported algorithms (RSA/DSA < 2048, ElGamal, unknown curves)."""
    if key.algorithm in (ALG_ELGAMAL, ALG_ELGAMAL_ES):
        raise KeyImportError(KeyErrorKind.WEAK_ALGORITHM, key.name)
    if key.algorithm in _RSA_LIKE and key.bits < MIN_RSA_BITS:
        raise KeyImportError(KeyErrorKind.WEAK_ALGORITHM, key.name)
    if key.curve is not None and key.curve not in _SUPPORTED_CURVES:
        raise KeyImportError(KeyErrorKind.UNSUPPORTED, key.name)


def packets(raw: bytes) -> list[pk.Packet]:
    """The packets of armored (text around it is ignored) or binary OpenPGP data."""
    try:
        return list(pk.PacketPile.from_bytes(raw))
    except (RuntimeError, ValueError) as exc:
        raise KeyImportError(KeyErrorKind.NOT_OPENPGP) from exc


def precheck_public_key(raw: bytes, max_bytes: int) -> ParsedKeyBlock:
    """Size, secret key by mistake, not OpenPGP, several keys, unknown packet versions."""
    if len(raw) > max_bytes:
        raise KeyImportError(KeyErrorKind.TOO_LARGE)
    if b"PRIVATE KEY BLOCK" in raw:
        raise KeyImportError(KeyErrorKind.SECRET_KEY)
    if raw.count(b"-----BEGIN PGP PUBLIC KEY BLOCK") > 1:
        raise KeyImportError(KeyErrorKind.MULTIPLE_KEYS)
    found = packets(raw)
    primary: KeyFacts | None = None
    subkeys: list[KeyFacts] = []
    for packet in found:
        tag = tag_of(packet)
        if tag in (pk.Tag.SecretKey, pk.Tag.SecretSubkey):
            raise KeyImportError(KeyErrorKind.SECRET_KEY)
        if tag == pk.Tag.PublicKey:
            if primary is not None:
                raise KeyImportError(KeyErrorKind.MULTIPLE_KEYS)
            primary = key_facts(packet)
        elif tag == pk.Tag.PublicSubkey:
            subkeys.append(key_facts(packet))
    if primary is None:
        raise KeyImportError(KeyErrorKind.NOT_OPENPGP)
    try:
        binary = b"".join(bytes(p) for p in found)
    except (RuntimeError, ValueError) as exc:
        raise KeyImportError(KeyErrorKind.NOT_OPENPGP) from exc
    return ParsedKeyBlock(primary=primary, subkeys=tuple(subkeys), binary=binary)


def key_ids(raw: bytes) -> set[str]:
    """Key ids and fingerprints (upper-case hex) of every key packet in ``raw``."""
    out: set[str] = set()
    for packet in packets(raw):
        if tag_of(packet) in _KEY_TAGS and packet.key_id and packet.fingerprint:
            out.update((packet.key_id.upper(), packet.fingerprint.upper()))
    return out


def pkesk_recipients(message: bytes) -> list[str]:
    """Key ids (PKESKv3) or fingerprints (PKESKv6), upper-case hex, a message is encrypted to
    (empty for an anonymous recipient or anything unreadable)."""
    out: list[str] = []
    try:
        found = list(pk.PacketPile.from_bytes(message))
    except (RuntimeError, ValueError):
        return out
    for packet in found:
        if tag_of(packet) != pk.Tag.PKESK:
            continue
        body = packet.body
        if body[:1] == b"\x03" and len(body) >= 9:
            out.append(body[1:9].hex().upper())
        elif body[:1] == b"\x06" and len(body) > 2 and body[1] > 1:
            out.append(body[3 : 2 + body[1]].hex().upper())  # length, key version, fingerprint
    return out


def message_format_of(message: str | bytes) -> MessageFormat | None:
    """The SEIPD version of an (armored or binary) encrypted message."""
    raw = message.encode() if isinstance(message, str) else message
    try:
        for packet in pk.PacketPile.from_bytes(raw):
            if tag_of(packet) == pk.Tag.SEIP:
                return {1: MessageFormat.SEIPD_V1, 2: MessageFormat.SEIPD_V2}.get(packet.body[0])
    except (RuntimeError, ValueError, IndexError):
        return None
    return None
