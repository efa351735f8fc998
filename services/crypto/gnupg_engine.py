"""OpenPGP engine on GnuPG through python-gnupg (a ``gpg`` process per call).

For operators whose server key lives in a GnuPG keyring, gpg-agent or a smartcard. The engine
uses its own home directory (never ``~/.gnupg``). Debian's GnuPG 2.2 knows neither v6 keys nor
SEIPDv2: v6 keys are refused with :attr:`KeyErrorKind.UNSUPPORTED` and every message is SEIPDv1
with AES-256. Decryption with a user's secret key (reader tool, tests) runs in a throw-away home
directory that is deleted afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gnupg
import pysequoia as ps

from services.crypto import cleartext
from services.crypto.keycheck import (
    KeyFacts,
    ParsedKeyBlock,
    check_strength,
    message_format_of,
    precheck_public_key,
)
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
_CIPHER_ARGS = ["--cipher-algo", "AES256", "--digest-algo", "SHA256", "--compress-algo", "none"]
# gpg-agent re-protects imported keys with a count it calibrates at start; on small VMs that
# made every signature take ~1.5 s. The keys it protects carry long random passphrases (server
# key) or live in a throw-away home, so a fixed moderate count is enough.
_AGENT_CONF = "s2k-count 1048576\n"


def _to_bytes(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data


def _kill_agent(home: str, binary: str) -> None:
    gpgconf = shutil.which("gpgconf")
    if gpgconf is None:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [gpgconf, "--homedir", home, "--kill", "gpg-agent"],
            check=False,
            capture_output=True,
            timeout=10,
        )


def _new_home() -> str:
    home = tempfile.mkdtemp(prefix="libral-gpg-")
    os.chmod(home, 0o700)
    # no passphrase caching: every decryption must present the passphrase again
    Path(home, "gpg-agent.conf").write_text(f"default-cache-ttl 0\nmax-cache-ttl 0\n{_AGENT_CONF}")
    return home


def _remove_home(home: str, binary: str) -> None:
    _kill_agent(home, binary)
    shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def _temporary_gpg(binary: str) -> Iterator[gnupg.GPG]:
    home = _new_home()
    try:
        yield gnupg.GPG(gpgbinary=binary, gnupghome=home)
    finally:
        _remove_home(home, binary)


@dataclass
class _UserHome:
    """A throw-away keyring holding one user's secret key (reader tool, tests)."""

    home: str
    gpg: gnupg.GPG
    certs: set[str] = field(default_factory=set)


def _status_text(result: Any) -> str:
    return f"{getattr(result, 'status', '')} {getattr(result, 'stderr', '')}".lower()


class GnupgEngine:
    """:class:`~services.crypto.port.OpenPGPEngine` on python-gnupg."""

    name = "gnupg"
    supports_v6 = False

    def __init__(
        self,
        home: Path | str,
        binary: str = "gpg",
        max_key_bytes: int = MAX_KEY_BYTES,
    ) -> None:
        self._home = str(home)
        Path(self._home).mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self._home, 0o700)
        agent_conf = Path(self._home, "gpg-agent.conf")
        if not agent_conf.exists():  # an operator's own agent configuration wins
            agent_conf.write_text(_AGENT_CONF)
        self._binary = binary
        self._gpg = gnupg.GPG(gpgbinary=binary, gnupghome=self._home)
        self._max_key_bytes = max_key_bytes
        self._lock = threading.Lock()
        self._imported: set[str] = set()
        self._enc_subkeys: dict[str, tuple[str, ...]] = {}
        self._user_homes: dict[bytes, _UserHome] = {}

    def close(self) -> None:
        """Stop the gpg-agents; delete the throw-away keyrings that held users' secret keys."""
        _kill_agent(self._home, self._binary)
        with self._lock:
            homes = list(self._user_homes.values())
            self._user_homes.clear()
        for user_home in homes:
            _remove_home(user_home.home, self._binary)

    def _user_home(self, secret_key: str) -> _UserHome:
        digest = hashlib.sha256(secret_key.encode()).digest()
        with self._lock:
            found = self._user_homes.get(digest)
        if found is not None:
            return found
        home = _new_home()
        gpg = gnupg.GPG(gpgbinary=self._binary, gnupghome=home)
        imported = gpg.import_keys(secret_key)
        if not getattr(imported, "sec_imported", 0) and not getattr(imported, "sec_read", 0):
            _remove_home(home, self._binary)
            raise DecryptError(DecryptErrorKind.NO_SECRET_KEY, "not a secret key")
        user_home = _UserHome(home, gpg)
        with self._lock:
            self._user_homes[digest] = user_home
        return user_home

    # ------------------------------------------------------------------ keys

    def generate_key(
        self, user_id: str, *, version: KeyVersion = KeyVersion.V4, passphrase: str | None = None
    ) -> GeneratedKey:
        if version != KeyVersion.V4:
            raise KeyImportError(KeyErrorKind.UNSUPPORTED, "GnuPG 2.2 makes no v6 keys")
        public, secret = generate_protected_key(self._binary, user_id, passphrase)
        return GeneratedKey(
            info=self.inspect_public_key(public), secret_armored=secret, passphrase=passphrase
        )

    def inspect_public_key(self, data: str | bytes, *, now: datetime | None = None) -> KeyInfo:
        raw = _to_bytes(data)
        block = precheck_public_key(raw, self._max_key_bytes)
        if block.primary.version != 4:
            raise KeyImportError(KeyErrorKind.UNSUPPORTED, "v6 key")
        check_strength(block.primary)
        when = now or datetime.now(UTC)
        with self._lock:
            scanned = list(self._gpg.scan_keys_mem(raw.decode("latin-1")))
        if len(scanned) != 1:
            raise KeyImportError(KeyErrorKind.NOT_OPENPGP)
        key: dict[str, Any] = scanned[0]
        if key.get("type") == "sec":
            raise KeyImportError(KeyErrorKind.SECRET_KEY)
        if key.get("trust") == "r":
            raise KeyImportError(KeyErrorKind.REVOKED)
        expires = _ts(key.get("expires"))
        if key.get("trust") == "e" or (expires is not None and expires <= when):
            raise KeyImportError(KeyErrorKind.EXPIRED)
        enc = self._encryption_subkeys(key, block, when)
        fpr = normalize_fingerprint(str(key["fingerprint"]))
        with self._lock:
            self._enc_subkeys[fpr] = tuple(k.fingerprint for k in enc)
        return KeyInfo(
            fingerprint=fpr,
            version=KeyVersion.V4,
            algorithm=block.primary.name,
            encryption_algorithm=",".join(dict.fromkeys(k.name for k in enc)),
            user_ids=tuple(str(u) for u in key.get("uids", [])),
            created=block.primary.created,
            expires=expires,
            armored=ps.armor(block.binary, ps.ArmorKind.PublicKey),
            message_format=MessageFormat.SEIPD_V1,
        )

    @staticmethod
    def _encryption_subkeys(
        key: dict[str, Any], block: ParsedKeyBlock, when: datetime
    ) -> list[KeyFacts]:
        """Every valid, strong enough encryption-capable key (GnuPG itself would pick only the
        newest; we encrypt to all of them, as Sequoia does)."""
        by_id = {k.key_id: k for k in (block.primary, *block.subkeys)}
        info: dict[str, dict[str, Any]] = dict(key.get("subkey_info", {}))
        candidates: list[KeyFacts] = []
        if "e" in str(key.get("cap", "")):  # lower case: the primary key itself encrypts
            candidates.append(block.primary)
        for keyid, sub in info.items():
            if "e" not in str(sub.get("cap", "")) or sub.get("trust") in ("e", "r"):
                continue
            sub_expires = _ts(sub.get("expires"))
            if sub_expires is not None and sub_expires <= when:
                continue
            facts = by_id.get(str(keyid).upper())
            if facts is not None:
                candidates.append(facts)
        if not candidates:
            raise KeyImportError(KeyErrorKind.NO_ENCRYPTION_SUBKEY)
        usable: list[KeyFacts] = []
        weak: KeyImportError | None = None
        for facts in candidates:
            try:
                check_strength(facts)
            except KeyImportError as exc:
                weak = exc
                continue
            usable.append(facts)
        if not usable:
            assert weak is not None
            raise weak
        return usable

    def inspect_secret_key(self, data: str | bytes, passphrase: str | None) -> KeyInfo:
        raw = _to_bytes(data)
        with _temporary_gpg(self._binary) as tmp:
            result = tmp.import_keys(raw.decode("latin-1"))
            fprs = [str(f) for f in (result.fingerprints or [])]
            if not fprs or not getattr(result, "sec_imported", 0):
                raise KeyImportError(KeyErrorKind.NOT_OPENPGP)
            fpr = fprs[0]
            signed = tmp.sign(b"probe", keyid=fpr, passphrase=passphrase, detach=True)
            if not str(signed):
                raise KeyImportError(KeyErrorKind.BAD_PASSPHRASE)
            public = str(tmp.export_keys(fpr))
        block = precheck_public_key(public.encode(), self._max_key_bytes)
        check_strength(block.primary)
        return KeyInfo(
            fingerprint=normalize_fingerprint(fpr),
            version=KeyVersion.V4,
            algorithm=block.primary.name,
            encryption_algorithm="",
            user_ids=(),
            created=block.primary.created,
            expires=None,
            armored=public,
            message_format=MessageFormat.SEIPD_V1,
        )

    # ------------------------------------------------------------------ keyring

    def export_public_key(self, fingerprint: str) -> str:
        """The armored public key of a key in the engine's keyring (operator-managed)."""
        with self._lock:
            text = str(self._gpg.export_keys(normalize_fingerprint(fingerprint)))
        if "BEGIN PGP PUBLIC KEY BLOCK" not in text:
            raise KeyImportError(KeyErrorKind.NOT_OPENPGP, "no such key in the GnuPG keyring")
        return text

    def _ensure_public(self, armored: str, fingerprint: str) -> None:
        if fingerprint in self._imported:
            return
        result = self._gpg.import_keys(armored)
        if not result.fingerprints:
            raise KeyImportError(KeyErrorKind.NOT_OPENPGP)
        self._imported.add(fingerprint)

    def _ensure_signer(self, signer: SigningKey) -> str:
        fpr = normalize_fingerprint(signer.fingerprint)
        if signer.secret_armored is not None and ("sec:" + fpr) not in self._imported:
            result = self._gpg.import_keys(signer.secret_armored, passphrase=signer.passphrase)
            if not result.fingerprints:
                raise KeyImportError(KeyErrorKind.NOT_OPENPGP)
            self._imported.add("sec:" + fpr)
        return fpr

    # ------------------------------------------------------------------ messages

    def _recipients(self, recipient: KeyInfo) -> list[str]:
        """``FINGERPRINT!`` of every encryption subkey: gpg then encrypts to exactly those."""
        if recipient.version != KeyVersion.V4:
            raise KeyImportError(KeyErrorKind.UNSUPPORTED, "v6 recipient")
        with self._lock:
            subkeys = self._enc_subkeys.get(recipient.fingerprint)
        if subkeys is None:
            self.inspect_public_key(recipient.armored)
            with self._lock:
                subkeys = self._enc_subkeys[recipient.fingerprint]
        return [f"{fpr}!" for fpr in subkeys]

    def sign_and_encrypt(self, plaintext: bytes, recipient: KeyInfo, signer: SigningKey) -> str:
        recipients = self._recipients(recipient)
        with self._lock:
            self._ensure_public(recipient.armored, recipient.fingerprint)
            fpr = self._ensure_signer(signer)
            result = self._gpg.encrypt(
                plaintext,
                recipients,
                sign=fpr,
                passphrase=signer.passphrase,
                always_trust=True,
                armor=True,
                extra_args=_CIPHER_ARGS,
            )
        if not result.ok:
            raise RuntimeError(f"gpg could not sign and encrypt: {result.status}")
        return str(result)

    def encrypt(self, plaintext: bytes, recipient: KeyInfo) -> str:
        recipients = self._recipients(recipient)
        with self._lock:
            self._ensure_public(recipient.armored, recipient.fingerprint)
            result = self._gpg.encrypt(
                plaintext,
                recipients,
                always_trust=True,
                armor=True,
                extra_args=_CIPHER_ARGS,
            )
        if not result.ok:
            raise RuntimeError(f"gpg could not encrypt: {result.status}")
        return str(result)

    def decrypt_and_verify(
        self,
        message: str | bytes,
        secret_key: str,
        passphrase: str | None,
        verify_with: Sequence[str] = (),
    ) -> Decrypted:
        raw = _to_bytes(message)
        fmt = message_format_of(raw)
        user_home = self._user_home(secret_key)
        for cert in verify_with:
            if cert not in user_home.certs:
                user_home.gpg.import_keys(cert)
                user_home.certs.add(cert)
        result = user_home.gpg.decrypt(
            raw,
            passphrase=passphrase,
            always_trust=True,
            extra_args=["--no-symkey-cache"],
        )
        if not result.ok:
            raise _decrypt_error(result)
        signer: str | None = None
        if result.valid:
            primary = normalize_fingerprint(
                str(result.pubkey_fingerprint or result.fingerprint or "")
            )
            if primary in _primaries(verify_with):
                signer = primary
        return Decrypted(
            plaintext=bytes(result.data), signer_fingerprint=signer, message_format=fmt
        )

    def sign_detached(self, data: bytes, signer: SigningKey) -> str:
        with self._lock:
            fpr = self._ensure_signer(signer)
            result = self._gpg.sign(
                data,
                keyid=fpr,
                passphrase=signer.passphrase,
                detach=True,
                extra_args=["--digest-algo", "SHA256"],
            )
        text = str(result)
        if not text:
            raise KeyImportError(KeyErrorKind.BAD_PASSPHRASE)
        return text

    def verify_detached(self, data: bytes, signature: str, certs: Sequence[str]) -> str | None:
        with _temporary_gpg(self._binary) as tmp:
            for cert in certs:
                tmp.import_keys(cert)
            sig_path = Path(str(tmp.gnupghome)) / "detached.sig"
            sig_path.write_text(signature)
            result = tmp.verify_data(str(sig_path), data)
        if not result.valid:
            return None
        return normalize_fingerprint(str(result.pubkey_fingerprint or result.fingerprint))

    def sign_cleartext(self, text: bytes, signer: SigningKey) -> str:
        with self._lock:
            fpr = self._ensure_signer(signer)
            result = self._gpg.sign(
                text,
                keyid=fpr,
                passphrase=signer.passphrase,
                clearsign=True,
                extra_args=["--digest-algo", "SHA256"],
            )
        # The signed text is UTF-8: python-gnupg's str() decodes as Latin-1, which turns every
        # non-ASCII character into others and breaks the signature once encoded again.
        signed = bytes(result.data).decode("utf-8")
        if cleartext.BEGIN not in signed:
            raise KeyImportError(KeyErrorKind.BAD_PASSPHRASE)
        return signed

    def verify_cleartext(self, block: str | bytes, certs: Sequence[str]) -> Decrypted:
        raw = _to_bytes(block)
        if cleartext.BEGIN.encode() not in raw:
            raise DecryptError(DecryptErrorKind.NOT_OPENPGP, "not a cleartext-signed block")
        with _temporary_gpg(self._binary) as tmp:
            for cert in certs:
                tmp.import_keys(cert)
            result = tmp.decrypt(raw, always_trust=True)
        fpr = normalize_fingerprint(str(result.pubkey_fingerprint or result.fingerprint or ""))
        if not result.valid or fpr not in _primaries(certs):
            try:
                text = cleartext.unverified_text(raw)
            except ValueError as exc:
                raise DecryptError(DecryptErrorKind.NOT_OPENPGP, str(exc)) from exc
            return Decrypted(plaintext=text, signer_fingerprint=None)
        data = bytes(result.data)
        # gpg writes the line break that ends the signed text; it is not part of what was signed
        text = data[:-1] if data.endswith(b"\n") else data
        return Decrypted(plaintext=text, signer_fingerprint=fpr)

    def decrypt_with_passphrase(self, message: str | bytes, passphrase: str) -> bytes:
        with _temporary_gpg(self._binary) as tmp:
            result = tmp.decrypt(
                _to_bytes(message), passphrase=passphrase, extra_args=["--no-symkey-cache"]
            )
        if not result.ok:
            err = _decrypt_error(result)
            if err.kind in (DecryptErrorKind.FAILED, DecryptErrorKind.NO_SECRET_KEY):
                raise DecryptError(DecryptErrorKind.BAD_PASSPHRASE) from err
            raise err
        return bytes(result.data)


def _decrypt_error(result: Any) -> DecryptError:
    text = _status_text(result)
    if "no_data" in text or "no valid openpgp data" in text or "nodata" in text:
        return DecryptError(DecryptErrorKind.NOT_OPENPGP)
    if "bad passphrase" in text or "bad_passphrase" in text:
        return DecryptError(DecryptErrorKind.BAD_PASSPHRASE)
    if "no secret key" in text or "no_seckey" in text:
        return DecryptError(DecryptErrorKind.NO_SECRET_KEY)
    if "badmdc" in text or "modified" in text or "integrity" in text:
        return DecryptError(DecryptErrorKind.INTEGRITY)
    return DecryptError(DecryptErrorKind.FAILED, str(getattr(result, "status", "")))


def _primaries(certs: Sequence[str]) -> set[str]:
    """Primary key fingerprints of armored certificates."""
    out: set[str] = set()
    for cert in certs:
        with contextlib.suppress(RuntimeError, ValueError):
            out.add(normalize_fingerprint(ps.Cert.from_bytes(cert.encode()).fingerprint))
    return out


def _ts(value: object) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(int(str(value)), UTC)
    except ValueError:
        return None


def generate_protected_key(binary: str, user_id: str, passphrase: str | None) -> tuple[str, str]:
    """``(public, secret)`` armored: a v4 Ed25519 + Curve25519 key made by ``gpg`` in a
    throw-away home, its secret part protected with ``passphrase`` (``None``: unprotected).
    GnuPG's keys advertise SEIPDv1 only, so every sender uses a format GnuPG 2.2 reads."""
    if passphrase is not None and not passphrase:
        raise ValueError("an empty passphrase protects nothing")
    with _temporary_gpg(binary) as tmp:
        params = tmp.gen_key_input(
            key_type="EDDSA",
            key_curve="ed25519",
            key_usage="sign,cert",
            subkey_type="ECDH",
            subkey_curve="cv25519",
            subkey_usage="encrypt",
            name_real=user_id,
            name_email=None,
            name_comment=None,
            expire_date=0,
            passphrase=passphrase,
            no_protection=passphrase is None,
        )
        # python-gnupg writes "Name-Comment: None" (a user id "x (None)") and "Passphrase: None"
        params = "\n".join(line for line in params.splitlines() if not line.endswith(": None"))
        # a gpg-agent that starts slowly on a loaded machine fails the first try now and then
        fpr, status = "", ""
        for _attempt in range(3):
            result = tmp.gen_key(params)
            fpr, status = str(result.fingerprint or ""), str(getattr(result, "status", ""))
            if fpr:
                break
        if not fpr:
            raise RuntimeError(f"gpg could not generate a key: {status}")
        public = str(tmp.export_keys(fpr))
        secret = str(
            tmp.export_keys(
                fpr, secret=True, passphrase=passphrase, expect_passphrase=passphrase is not None
            )
        )
    return public, secret
