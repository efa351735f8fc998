"""Field encryption: round trips, binding to purpose and row, tampering, rotation, look-ups."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.crypto.config import CryptoSettings
from services.crypto.fields import (
    FieldCipher,
    FieldDecryptError,
    FieldErrorKind,
    MasterKeyError,
    decode_master_key,
    master_keys_from_settings,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))
CIPHER = FieldCipher([KEY_A])

purposes = st.text(min_size=1, max_size=30)
row_ids = st.one_of(st.none(), st.integers(), st.text(max_size=20))


@settings(max_examples=300, deadline=None)
@given(value=st.binary(max_size=2000), purpose=purposes, row_id=row_ids)
def test_round_trip(value: bytes, purpose: str, row_id: int | str | None) -> None:
    token = CIPHER.encrypt(purpose, value, row_id=row_id)
    assert token.isascii()
    assert CIPHER.decrypt(purpose, token, row_id=row_id) == value


@settings(max_examples=200, deadline=None)
@given(value=st.text(max_size=500), purpose=purposes)
def test_round_trip_text_and_fresh_nonces(value: str, purpose: str) -> None:
    first = CIPHER.encrypt(purpose, value)
    assert CIPHER.decrypt_str(purpose, first) == value
    assert CIPHER.encrypt(purpose, value) != first  # random nonce: equal values look different


@settings(max_examples=300, deadline=None)
@given(value=st.binary(min_size=0, max_size=200), data=st.data())
def test_any_flipped_bit_is_an_error(value: bytes, data: st.DataObject) -> None:
    token = CIPHER.encrypt("group-link", value, row_id=7)
    prefix, key_id, blob = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4)))
    index = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=7))
    raw[index] ^= 1 << bit
    forged = f"{prefix}.{key_id}." + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(FieldDecryptError) as err:
        CIPHER.decrypt("group-link", forged, row_id=7)
    assert err.value.kind == FieldErrorKind.TAMPERED


@settings(max_examples=200, deadline=None)
@given(garbage=st.text(max_size=80))
def test_garbage_tokens_are_errors(garbage: str) -> None:
    with pytest.raises(FieldDecryptError):
        CIPHER.decrypt("x", garbage)


def test_bound_to_purpose_and_row() -> None:
    token = CIPHER.encrypt("group-link", b"-100123", row_id=1)
    with pytest.raises(FieldDecryptError) as err:
        CIPHER.decrypt("ai-context", token, row_id=1)
    assert err.value.kind == FieldErrorKind.TAMPERED
    with pytest.raises(FieldDecryptError):
        CIPHER.decrypt("group-link", token, row_id=2)
    with pytest.raises(FieldDecryptError):
        CIPHER.decrypt("group-link", token)


def test_other_master_key_cannot_read() -> None:
    token = CIPHER.encrypt("p", b"secret")
    with pytest.raises(FieldDecryptError) as err:
        FieldCipher([KEY_B]).decrypt("p", token)
    assert err.value.kind == FieldErrorKind.UNKNOWN_KEY


def test_rotation_keeps_old_values_readable_and_reencrypts() -> None:
    old_token = CIPHER.encrypt("p", b"value", row_id=3)
    rotated = FieldCipher([KEY_B, KEY_A])
    assert rotated.needs_rotation(old_token)
    assert rotated.decrypt("p", old_token, row_id=3) == b"value"
    new_token = rotated.reencrypt("p", old_token, row_id=3)
    assert not rotated.needs_rotation(new_token)
    assert FieldCipher([KEY_B]).decrypt("p", new_token, row_id=3) == b"value"
    assert rotated.reencrypt("p", new_token, row_id=3) == new_token


def test_lookup_hash() -> None:
    h = CIPHER.lookup_hash("chat-id", -100123)
    assert h == CIPHER.lookup_hash("chat-id", "-100123")
    assert len(h) == 64
    assert h != CIPHER.lookup_hash("user-id", -100123)
    assert h != FieldCipher([KEY_B]).lookup_hash("chat-id", -100123)
    rotated = FieldCipher([KEY_B, KEY_A])
    assert rotated.lookup_hashes("chat-id", -100123) == [
        FieldCipher([KEY_B]).lookup_hash("chat-id", -100123),
        h,
    ]


def test_master_key_setting_and_file(tmp_path: Path) -> None:
    encoded = base64.b64encode(KEY_A).decode()
    configured = CryptoSettings(master_key=encoded, master_key_file=tmp_path / "unused.key")
    assert master_keys_from_settings(configured) == [KEY_A]
    assert not (tmp_path / "unused.key").exists()
    with pytest.raises(MasterKeyError):
        decode_master_key(base64.b64encode(b"short").decode())
    with pytest.raises(MasterKeyError):
        decode_master_key("not base64 !!")

    path = tmp_path / "data" / "master.key"
    embedded = CryptoSettings(master_key_file=path)
    first = master_keys_from_settings(embedded)
    assert path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert master_keys_from_settings(embedded) == first  # created once, then reused

    with_old = CryptoSettings(
        master_key=base64.b64encode(KEY_B).decode(),
        old_master_keys=base64.b64encode(KEY_A).decode(),
    )
    assert master_keys_from_settings(with_old) == [KEY_B, KEY_A]
