"""User key import checks: each refusal has its own error kind, on both engines."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pysequoia as ps
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.crypto.port import (
    GeneratedKey,
    KeyErrorKind,
    KeyImportError,
    KeyVersion,
    MessageFormat,
    OpenPGPEngine,
)
from services.crypto.sequoia_engine import SequoiaEngine
from tests.crypto_support import GpgKeys, dearmor


def kind_of(engine: OpenPGPEngine, data: str | bytes, **kw: datetime) -> KeyErrorKind:
    with pytest.raises(KeyImportError) as err:
        engine.inspect_public_key(data, **kw)
    return err.value.kind


def test_not_openpgp(any_engine: OpenPGPEngine) -> None:
    assert kind_of(any_engine, "hello, this is my key") == KeyErrorKind.NOT_OPENPGP
    assert kind_of(any_engine, b"") == KeyErrorKind.NOT_OPENPGP
    broken = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"
    assert kind_of(any_engine, broken) == KeyErrorKind.NOT_OPENPGP


def test_secret_key_sent_by_mistake(
    any_engine: OpenPGPEngine, user_v4: GeneratedKey, gpg_keys: GpgKeys
) -> None:
    assert kind_of(any_engine, user_v4.secret_armored) == KeyErrorKind.SECRET_KEY
    assert kind_of(any_engine, gpg_keys.user_secret) == KeyErrorKind.SECRET_KEY
    # binary (a .gpg file), no armor header to give it away
    binary = dearmor(user_v4.secret_armored.encode())
    assert kind_of(any_engine, binary) == KeyErrorKind.SECRET_KEY


def test_several_keys(any_engine: OpenPGPEngine, gpg_keys: GpgKeys) -> None:
    both = gpg_keys.user_public + gpg_keys.rsa3072_public
    assert kind_of(any_engine, both) == KeyErrorKind.MULTIPLE_KEYS
    binary = dearmor(gpg_keys.user_public.encode()) + dearmor(gpg_keys.rsa3072_public.encode())
    assert kind_of(any_engine, binary) == KeyErrorKind.MULTIPLE_KEYS


def test_expired(any_engine: OpenPGPEngine) -> None:
    tsk = ps.Tsk.generate("Soon <soon@example.org>", validity_seconds=3600)
    public = str(tsk.extract_certificate())
    assert any_engine.inspect_public_key(public).expires is not None
    later = datetime.now(UTC) + timedelta(days=2)
    assert kind_of(any_engine, public, now=later) == KeyErrorKind.EXPIRED


def test_revoked(any_engine: OpenPGPEngine) -> None:
    tsk = ps.Tsk.generate("Gone <gone@example.org>")
    cert = tsk.extract_certificate()
    revocation = cert.revoke(tsk.certifier())
    revoked = ps.Cert.from_bytes(bytes(cert) + bytes(revocation))
    assert kind_of(any_engine, str(revoked)) == KeyErrorKind.REVOKED


def test_no_encryption_subkey(any_engine: OpenPGPEngine, gpg_keys: GpgKeys) -> None:
    assert kind_of(any_engine, gpg_keys.sign_only_public) == KeyErrorKind.NO_ENCRYPTION_SUBKEY


def test_weak_rsa(any_engine: OpenPGPEngine, gpg_keys: GpgKeys) -> None:
    assert kind_of(any_engine, gpg_keys.rsa1024_public) == KeyErrorKind.WEAK_ALGORITHM


def test_too_large(any_engine: OpenPGPEngine, gpg_keys: GpgKeys) -> None:
    padded = gpg_keys.user_public + "\n" * (300 * 1024)
    assert kind_of(any_engine, padded) == KeyErrorKind.TOO_LARGE


def test_binary_public_key_is_accepted(any_engine: OpenPGPEngine, gpg_keys: GpgKeys) -> None:
    binary = dearmor(gpg_keys.user_public.encode())
    assert any_engine.inspect_public_key(binary).fingerprint == gpg_keys.user_fpr


# ---------------------------------------------------------------- malformed input never crashes


def outcome(engine: OpenPGPEngine, data: str | bytes) -> KeyErrorKind | None:
    """The error kind, or None when the key was accepted; any other exception fails the test."""
    try:
        engine.inspect_public_key(data)
    except KeyImportError as exc:
        return exc.kind
    return None


_ARMOR_HEAD = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
_ARMOR_TAIL = "\n-----END PGP PUBLIC KEY BLOCK-----\n"


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=600))
def test_random_bytes_give_an_error_kind(data: bytes) -> None:
    assert outcome(SequoiaEngine(), data) in set(KeyErrorKind)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=400))
def test_random_armored_data_gives_an_error_kind(data: bytes) -> None:
    text = _ARMOR_HEAD + base64.b64encode(data).decode() + _ARMOR_TAIL
    with pytest.raises(KeyImportError) as err:
        SequoiaEngine().inspect_public_key(text)
    assert isinstance(err.value.kind, KeyErrorKind)


_VALID = str(ps.Tsk.generate("Fuzz <fuzz@example.org>").extract_certificate())
_VALID_BINARY = dearmor(_VALID.encode())


@settings(max_examples=200, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(_VALID_BINARY) - 1),
    value=st.integers(min_value=0, max_value=255),
    cut=st.integers(min_value=1, max_value=len(_VALID_BINARY)),
)
def test_mutated_valid_key_never_crashes(position: int, value: int, cut: int) -> None:
    mutated = bytearray(_VALID_BINARY)
    mutated[position] = value
    engine = SequoiaEngine()
    for candidate in (bytes(mutated), bytes(mutated[:cut])):
        kind = outcome(engine, candidate)
        assert kind is None or kind in set(KeyErrorKind)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_gnupg_engine_random_input(gnupg_engine: OpenPGPEngine, data: bytes) -> None:
    assert outcome(gnupg_engine, data) in set(KeyErrorKind)


def test_generated_keys(sequoia: SequoiaEngine, gnupg_engine: OpenPGPEngine) -> None:
    """pysequoia makes unprotected v4/v6 keys; a protected v4 key comes from GnuPG, and a
    protected v6 key is refused (pysequoia cannot add a passphrase)."""
    for version in (KeyVersion.V4, KeyVersion.V6):
        key = sequoia.generate_key("Mio", version=version)
        assert key.passphrase is None
        assert key.info.version == version
        assert sequoia.inspect_secret_key(key.secret_armored, None).fingerprint == (
            key.info.fingerprint
        )
    protected = sequoia.generate_key("Mio", passphrase="pw 1")
    assert protected.info.message_format == MessageFormat.SEIPD_V1  # GnuPG 2.2 reads it
    with pytest.raises(KeyImportError) as err:
        sequoia.inspect_secret_key(protected.secret_armored, "wrong")
    assert err.value.kind == KeyErrorKind.BAD_PASSPHRASE
    assert sequoia.inspect_secret_key(protected.secret_armored, "pw 1").fingerprint == (
        protected.info.fingerprint
    )
    with pytest.raises(KeyImportError) as err:
        sequoia.generate_key("Mio", version=KeyVersion.V6, passphrase="pw")
    assert err.value.kind == KeyErrorKind.UNSUPPORTED
    with pytest.raises(KeyImportError):
        gnupg_engine.generate_key("Mio", version=KeyVersion.V6)
    plain = gnupg_engine.generate_key("Mio")  # GnuPG, no passphrase: unprotected, uid as given
    assert plain.info.user_ids == ("Mio",)
    assert protected.info.user_ids == ("Mio",)
    assert gnupg_engine.inspect_secret_key(plain.secret_armored, None).fingerprint == (
        plain.info.fingerprint
    )
    with pytest.raises(ValueError):
        sequoia.generate_key("Mio", passphrase="")


def test_text_around_a_pasted_key_is_dropped(any_engine: OpenPGPEngine, gpg_keys: GpgKeys) -> None:
    pasted = "here is my key:\n\n" + gpg_keys.user_public + "\nthanks!"
    info = any_engine.inspect_public_key(pasted)
    assert info.fingerprint == gpg_keys.user_fpr
    assert "thanks" not in info.armored
    assert any_engine.inspect_public_key(info.armored).fingerprint == gpg_keys.user_fpr


def test_daily_key_status(sequoia: SequoiaEngine, gpg_keys: GpgKeys) -> None:
    from services.crypto.key_status import KeyState, check_user_key

    tsk = ps.Tsk.generate("Soon <soon@example.org>", validity_seconds=30 * 86400)
    public = str(tsk.extract_certificate())
    now = datetime.now(UTC)
    assert check_user_key(sequoia, public, now=now).state == KeyState.VALID
    soon = check_user_key(sequoia, public, now=now + timedelta(days=20))
    assert soon.state == KeyState.EXPIRING
    assert soon.usable
    assert soon.expires is not None
    gone = check_user_key(sequoia, public, now=now + timedelta(days=31))
    assert gone.state == KeyState.EXPIRED
    assert not gone.usable
    cert = tsk.extract_certificate()
    revoked = str(ps.Cert.from_bytes(bytes(cert) + bytes(cert.revoke(tsk.certifier()))))
    assert check_user_key(sequoia, revoked).state == KeyState.REVOKED
    unusable = check_user_key(sequoia, gpg_keys.sign_only_public)
    assert unusable.state == KeyState.UNUSABLE
    assert unusable.reason == KeyErrorKind.NO_ENCRYPTION_SUBKEY


def test_context_lock_checks_a_cached_key_again_once_it_expires(
    sequoia: SequoiaEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.crypto import records
    from services.crypto.records import ContextLock

    public = str(ps.Tsk.generate("Brief", validity_seconds=3600).extract_certificate())
    lock = ContextLock(sequoia)
    assert lock._recipient(public).expires is not None
    later = datetime.now(UTC) + timedelta(hours=2)

    class Clock(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return later

    monkeypatch.setattr(records, "datetime", Clock)
    original = sequoia.inspect_public_key
    monkeypatch.setattr(
        sequoia, "inspect_public_key", lambda data, now=None: original(data, now=later)
    )
    with pytest.raises(KeyImportError) as err:
        lock._recipient(public)
    assert err.value.kind == KeyErrorKind.EXPIRED
