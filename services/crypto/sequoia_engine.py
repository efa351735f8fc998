"""The default OpenPGP engine: Sequoia-PGP through pysequoia, in process.

v6 recipients get pysequoia's native PKESKv6 + SEIPDv2 (AES-256-OCB). v4 recipients get a
pysequoia-made signed message wrapped in PKESKv3 + SEIPDv1 (AES-256) by
:mod:`services.crypto._packets`, so GnuPG 2.2 reads every record we send.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Generic, TypeVar

import pysequoia as ps
from pysequoia import packet as pk

from services.crypto import _packets as pkt
from services.crypto import cleartext
from services.crypto.keycheck import check_strength, precheck_public_key
from services.crypto.port import (
    Decrypted,
    DecryptError,
    DecryptErrorKind,
    GeneratedKey,
    KeyErrorKind,
    KeyImportError,
    KeyInfo,
    KeyVersion,
    MessageFormat,
    SigningKey,
    normalize_fingerprint,
)

MAX_KEY_BYTES = 256 * 1024


_K = TypeVar("_K")
_V = TypeVar("_V")


class _LRU(Generic[_K, _V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[_K, _V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _K) -> _V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: _K, value: _V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            if len(self._data) > self._size:
                self._data.popitem(last=False)


def _to_bytes(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data


def _digest(data: str | bytes) -> bytes:
    return hashlib.sha256(_to_bytes(data)).digest()


def pkesk_recipients(message: bytes) -> list[bytes]:
    """Key ids (8 bytes) or fingerprints a binary message is encrypted to."""
    out: list[bytes] = []
    for tag, body in pkt.iter_packets(message):
        if tag != pkt.TAG_PKESK:
            break
        if body[:1] == b"\x03":
            out.append(body[1:9])
        elif body[:1] == b"\x06" and len(body) > 2:
            n = body[1]
            out.append(body[3 : 2 + n])
    return out


def message_format_of(message: str | bytes) -> MessageFormat | None:
    """The SEIPD version of an (armored or binary) encrypted message, from its packets."""
    try:
        for packet in pk.PacketPile.from_bytes(_to_bytes(message)):
            if packet.tag == pk.Tag.SEIP:
                version = packet.body[:1]
                if version == b"\x01":
                    return MessageFormat.SEIPD_V1_AES256
                if version == b"\x02" and packet.body[1:3] == bytes([pkt.SYM_AES256, 2]):
                    return MessageFormat.SEIPD_V2_AES256_OCB
                return None
    except RuntimeError:
        return None
    return None


class SequoiaEngine:
    """:class:`~services.crypto.port.OpenPGPEngine` on pysequoia."""

    name = "sequoia"
    supports_v6 = True

    def __init__(self, max_key_bytes: int = MAX_KEY_BYTES, *, fast_path: bool = True) -> None:
        """``fast_path``: sign (v4 Ed25519 server keys) and encrypt to X25519 v6 keys with our own
        packet code over OpenSSL instead of pysequoia — same formats, about twice as fast."""
        self._max_key_bytes = max_key_bytes
        self._fast_path = fast_path
        self._fast_signers: _LRU[bytes, pkt.FastSigner | None] = _LRU(16)
        self._no_fast: set[bytes] = set()
        self._certs: _LRU[bytes, ps.Cert] = _LRU(4096)
        self._enc_keys: _LRU[str, pkt.KeyMaterial] = _LRU(4096)
        self._signers: _LRU[bytes, ps.PySigner] = _LRU(16)
        self._tsks: _LRU[bytes, ps.Tsk] = _LRU(64)
        # unlocked user keys, for the reader opening many records (the server never decrypts)
        self._decryptors: _LRU[bytes, ps.PyDecryptor] = _LRU(8)

    # ------------------------------------------------------------------ keys

    def generate_key(
        self, user_id: str, *, version: KeyVersion = KeyVersion.V4, passphrase: str
    ) -> GeneratedKey:
        if not passphrase:
            raise ValueError("a generated key must be protected with a passphrase")
        if version == KeyVersion.V4:
            secret = pkt.build_v4_curve25519_key(user_id, passphrase)
        else:
            tsk = ps.Tsk.generate(
                user_id, profile=ps.Profile.RFC9580, cipher_suite=ps.CipherSuite.Cv25519
            )
            secret = pkt.protect_transferable_secret_key(bytes(tsk), passphrase)
        protected = ps.Tsk.from_bytes(secret)
        info = self.inspect_public_key(str(protected.extract_certificate()))
        return GeneratedKey(
            info=info,
            secret_armored=ps.armor(secret, ps.ArmorKind.SecretKey),
            passphrase=passphrase,
        )

    def inspect_public_key(self, data: str | bytes, *, now: datetime | None = None) -> KeyInfo:
        raw = _to_bytes(data)
        block = precheck_public_key(raw, self._max_key_bytes)
        check_strength(block.primary)
        cert = self._cert(block.binary)
        try:
            return self._inspect(cert, now or datetime.now(UTC))
        except RuntimeError as exc:  # Sequoia refused the key outright
            text = str(exc)
            if "Policy rejected" in text or "not considered secure" in text:
                raise KeyImportError(KeyErrorKind.WEAK_ALGORITHM) from exc
            raise KeyImportError(KeyErrorKind.NOT_OPENPGP) from exc

    def inspect_secret_key(self, data: str | bytes, passphrase: str | None) -> KeyInfo:
        raw = _to_bytes(data)
        try:
            tsk = ps.Tsk.from_bytes(raw)
        except (RuntimeError, ValueError) as exc:
            raise KeyImportError(KeyErrorKind.NOT_OPENPGP) from exc
        try:
            tsk.signer(passphrase)
        except (RuntimeError, ValueError) as exc:
            if "No signing" in str(exc) or "no signing" in str(exc):
                raise KeyImportError(KeyErrorKind.NO_SIGNING_KEY) from exc
            raise KeyImportError(KeyErrorKind.BAD_PASSPHRASE) from exc
        cert = tsk.extract_certificate()
        return self._inspect(cert, datetime.now(UTC), need_encryption=False)

    def _cert(self, raw: bytes) -> ps.Cert:
        key = _digest(raw)
        cert = self._certs.get(key)
        if cert is None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    cert = ps.Cert.from_bytes(raw)
            except (RuntimeError, ValueError) as exc:
                raise KeyImportError(KeyErrorKind.NOT_OPENPGP) from exc
            self._certs.put(key, cert)
        return cert

    def _inspect(self, cert: ps.Cert, now: datetime, *, need_encryption: bool = True) -> KeyInfo:
        if cert.is_revoked:
            raise KeyImportError(KeyErrorKind.REVOKED)
        expires = cert.expiration
        if expires is not None and expires <= now:
            raise KeyImportError(KeyErrorKind.EXPIRED)
        raw = bytes(cert)
        keys: list[tuple[int, pkt.KeyMaterial]] = []
        try:
            for tag, body in pkt.iter_packets(raw):
                if tag in (pkt.TAG_PUBLIC_KEY, pkt.TAG_PUBLIC_SUBKEY):
                    keys.append((tag, pkt.parse_key(body)))
        except pkt.PacketError as exc:
            raise KeyImportError(KeyErrorKind.UNSUPPORTED, str(exc)) from exc
        if not keys or keys[0][0] != pkt.TAG_PUBLIC_KEY:
            raise KeyImportError(KeyErrorKind.NOT_OPENPGP)
        primary = keys[0][1]
        check_strength(primary)
        version = KeyVersion(primary.version)
        armored = str(cert)
        fpr = normalize_fingerprint(cert.fingerprint)
        enc_name = ""
        if need_encryption:
            enc = self._select_encryption_key(cert, keys)
            check_strength(enc)
            if version == KeyVersion.V4 and not pkt.can_encrypt_v1(enc):
                raise KeyImportError(KeyErrorKind.UNSUPPORTED, enc.name)
            self._enc_keys.put(fpr, enc)
            enc_name = enc.name
        return KeyInfo(
            fingerprint=fpr,
            version=version,
            algorithm=primary.name,
            encryption_algorithm=enc_name,
            user_ids=tuple(str(u) for u in cert.user_ids),
            created=datetime.fromtimestamp(primary.created, UTC),
            expires=expires,
            armored=armored,
            message_format=(
                MessageFormat.SEIPD_V2_AES256_OCB
                if version == KeyVersion.V6
                else MessageFormat.SEIPD_V1_AES256
            ),
        )

    @staticmethod
    def _select_encryption_key(
        cert: ps.Cert, keys: list[tuple[int, pkt.KeyMaterial]]
    ) -> pkt.KeyMaterial:
        """Let Sequoia (with its policy and signature checks) pick the encryption subkey."""
        try:
            probe = ps.encrypt(b"", [cert], armor=False)
        except (RuntimeError, ValueError) as exc:
            raise KeyImportError(KeyErrorKind.NO_ENCRYPTION_SUBKEY) from exc
        wanted = pkesk_recipients(probe)
        for _tag, key in keys:
            # PKESKv3 names a key id; PKESKv6 a fingerprint (also of v4 keys)
            if key.key_id() in wanted or key.fingerprint() in wanted:
                return key
        raise KeyImportError(KeyErrorKind.NO_ENCRYPTION_SUBKEY)

    # ------------------------------------------------------------------ messages

    def _signer(self, signer: SigningKey) -> ps.PySigner:
        if signer.secret_armored is None:
            raise ValueError("the sequoia engine needs the server's armored secret key")
        cache_key = _digest(signer.secret_armored + "\0" + (signer.passphrase or ""))
        py_signer = self._signers.get(cache_key)
        if py_signer is None:
            try:
                tsk = ps.Tsk.from_bytes(signer.secret_armored.encode())
                py_signer = tsk.signer(signer.passphrase)
            except (RuntimeError, ValueError) as exc:
                raise KeyImportError(KeyErrorKind.BAD_PASSPHRASE) from exc
            self._signers.put(cache_key, py_signer)
        return py_signer

    def _fast_signer(self, signer: SigningKey, py_signer: ps.PySigner) -> pkt.FastSigner | None:
        """OpenSSL signer for the key pysequoia signs with, when it is a v4 Ed25519 key."""
        if not self._fast_path or signer.secret_armored is None:
            return None
        cache_key = _digest(signer.secret_armored + "\0" + (signer.passphrase or ""))
        if cache_key in self._no_fast:
            return None
        cached = self._fast_signers.get(cache_key)
        if cached is None:
            try:
                probe = ps.sign(py_signer, b"", mode=ps.SignatureMode.DETACHED, armor=False)
                key_id = ps.Sig.from_bytes(probe).issuer_key_id
                if key_id:
                    cached = pkt.fast_signer(
                        pkt.dearmor(signer.secret_armored.encode()),
                        bytes.fromhex(key_id),
                        signer.passphrase,
                    )
            except (pkt.PacketError, RuntimeError, ValueError):
                cached = None
            if cached is None:
                self._no_fast.add(cache_key)
                return None
            self._fast_signers.put(cache_key, cached)
        return cached

    def _signed(self, plaintext: bytes, signer: SigningKey) -> bytes:
        py_signer = self._signer(signer)
        fast = self._fast_signer(signer, py_signer)
        if fast is not None:
            return fast.signed_packets(plaintext)
        return ps.sign(py_signer, plaintext, armor=False)

    def _enc_key(self, recipient: KeyInfo) -> pkt.KeyMaterial:
        enc = self._enc_keys.get(recipient.fingerprint)
        if enc is None:
            self.inspect_public_key(recipient.armored)
            enc = self._enc_keys.get(recipient.fingerprint)
            if enc is None:  # pragma: no cover - inspect raises instead
                raise KeyImportError(KeyErrorKind.NO_ENCRYPTION_SUBKEY)
        return enc

    def sign_and_encrypt(self, plaintext: bytes, recipient: KeyInfo, signer: SigningKey) -> str:
        enc = self._enc_key(recipient)
        if recipient.version == KeyVersion.V6:
            if self._fast_path and pkt.can_encrypt_v2(enc):
                message = pkt.encrypt_v2(enc, self._signed(plaintext, signer))
                return pkt.armor_message(message)
            cert = self._cert(recipient.armored.encode())
            return ps.encrypt(plaintext, [cert], signer=self._signer(signer)).decode()
        message = pkt.encrypt_v1(enc, self._signed(plaintext, signer))
        return pkt.armor_message(message)

    def encrypt(self, plaintext: bytes, recipient: KeyInfo) -> str:
        if recipient.version == KeyVersion.V6:
            cert = self._cert(recipient.armored.encode())
            return ps.encrypt(plaintext, [cert]).decode()
        message = pkt.encrypt_v1(self._enc_key(recipient), pkt.literal_packet(plaintext))
        return pkt.armor_message(message)

    def _tsk(self, secret_key: str) -> ps.Tsk:
        key = _digest(secret_key)
        tsk = self._tsks.get(key)
        if tsk is None:
            try:
                tsk = ps.Tsk.from_bytes(secret_key.encode())
            except (RuntimeError, ValueError) as exc:
                raise DecryptError(DecryptErrorKind.NO_SECRET_KEY, "not a secret key") from exc
            self._tsks.put(key, tsk)
        return tsk

    def decrypt_and_verify(
        self,
        message: str | bytes,
        secret_key: str,
        passphrase: str | None,
        verify_with: Sequence[str] = (),
    ) -> Decrypted:
        raw = _to_bytes(message)
        binary = _dearmor_message(raw)
        fmt = message_format_of(binary)
        tsk = self._tsk(secret_key)
        unlock_key = _digest(secret_key + "\0" + (passphrase or ""))
        decryptor = self._decryptors.get(unlock_key)
        if decryptor is None:  # unlocking runs the S2K: once per key (the reader opens many)
            try:
                decryptor = tsk.decryptor(passphrase)
            except (RuntimeError, ValueError) as exc:
                raise DecryptError(DecryptErrorKind.BAD_PASSPHRASE) from exc
            self._decryptors.put(unlock_key, decryptor)
        certs = [self._cert(c.encode()) for c in verify_with]

        def store(_ids: object) -> list[ps.Cert]:
            return certs

        try:
            result = ps.decrypt(binary, decryptor, store=store)
            sigs = result.valid_sigs
            signer: str | None = normalize_fingerprint(sigs[0].certificate) if sigs else None
        except RuntimeError as exc:
            if "no valid signatures" not in str(exc).lower():
                raise self._classify(exc, binary, tsk) from exc
            try:
                result = ps.decrypt(binary, decryptor)
            except RuntimeError as exc2:
                raise self._classify(exc2, binary, tsk) from exc2
            signer = None
        plaintext = result.bytes
        if plaintext is None:  # pragma: no cover - bytes input always yields bytes
            raise DecryptError(DecryptErrorKind.FAILED)
        return Decrypted(plaintext=plaintext, signer_fingerprint=signer, message_format=fmt)

    @staticmethod
    def _classify(exc: Exception, binary: bytes, tsk: ps.Tsk) -> DecryptError:
        text = str(exc).split("\n", 1)[0]
        if "manipulated" in text.lower():
            return DecryptError(DecryptErrorKind.INTEGRITY, text)
        try:
            recipients = pkesk_recipients(binary)
        except pkt.PacketError:
            return DecryptError(DecryptErrorKind.NOT_OPENPGP, text)
        if not recipients:
            return DecryptError(DecryptErrorKind.NOT_OPENPGP, text)
        mine: set[bytes] = set()
        for tag, body in pkt.iter_packets(bytes(tsk)):
            if tag in (pkt.TAG_SECRET_KEY, pkt.TAG_SECRET_SUBKEY):
                key = pkt.parse_key(body)
                mine.update((key.key_id(), key.fingerprint()))
        if mine.isdisjoint(recipients):
            return DecryptError(DecryptErrorKind.NO_SECRET_KEY, text)
        return DecryptError(DecryptErrorKind.INTEGRITY, text)

    def sign_detached(self, data: bytes, signer: SigningKey) -> str:
        return ps.sign(self._signer(signer), data, mode=ps.SignatureMode.DETACHED).decode()

    def verify_detached(self, data: bytes, signature: str, certs: Sequence[str]) -> str | None:
        parsed = [self._cert(c.encode()) for c in certs]
        try:
            sig = ps.Sig.from_bytes(signature.encode())
            result = ps.verify(data, store=lambda _ids: parsed, signature=sig)
        except (RuntimeError, ValueError):
            return None
        sigs = result.valid_sigs
        return normalize_fingerprint(sigs[0].certificate) if sigs else None

    def sign_cleartext(self, text: bytes, signer: SigningKey) -> str:
        return ps.sign(self._signer(signer), text, mode=ps.SignatureMode.CLEAR).decode()

    def verify_cleartext(self, block: str | bytes, certs: Sequence[str]) -> Decrypted:
        raw = _to_bytes(block)
        if cleartext.BEGIN.encode() not in raw:
            raise DecryptError(DecryptErrorKind.NOT_OPENPGP, "not a cleartext-signed block")
        parsed = [self._cert(c.encode()) for c in certs]
        try:
            result = ps.verify(raw, store=lambda _ids: parsed)
        except (RuntimeError, ValueError):
            result = None
        if result is None or not result.valid_sigs or result.bytes is None:
            try:
                text = cleartext.unverified_text(raw)
            except ValueError as exc:
                raise DecryptError(DecryptErrorKind.NOT_OPENPGP, str(exc)) from exc
            return Decrypted(plaintext=text, signer_fingerprint=None)
        signer = normalize_fingerprint(result.valid_sigs[0].certificate)
        return Decrypted(plaintext=result.bytes, signer_fingerprint=signer)

    def decrypt_with_passphrase(self, message: str | bytes, passphrase: str) -> bytes:
        binary = _dearmor_message(_to_bytes(message))
        try:
            result = ps.decrypt(binary, passwords=[passphrase])
        except RuntimeError as exc:
            text = str(exc).split("\n", 1)[0]
            if "No key to decrypt" in text or "session key" in text.lower():
                raise DecryptError(DecryptErrorKind.BAD_PASSPHRASE) from exc
            if "manipulated" in text.lower():
                raise DecryptError(DecryptErrorKind.INTEGRITY, text) from exc
            raise DecryptError(DecryptErrorKind.NOT_OPENPGP, text) from exc
        if result.bytes is None:  # pragma: no cover
            raise DecryptError(DecryptErrorKind.FAILED)
        return result.bytes


def _dearmor_message(raw: bytes) -> bytes:
    """Binary form of an armored or binary message (one parse, re-serialised)."""
    if not raw.lstrip().startswith(b"-----BEGIN"):
        return raw
    try:
        return pkt.dearmor(raw)
    except pkt.PacketError as exc:
        raise DecryptError(DecryptErrorKind.NOT_OPENPGP, "bad armor") from exc
