"""The phrases services/crypto/sequoia_errors.py reads, provoked with the installed pysequoia.

pysequoia has no exception types of its own, so each failure the engine tells apart is made
happen here: a release that words one differently fails this test (the lockfile pins the one
we run), instead of a user's wrong passphrase showing as "not OpenPGP".
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version

import pysequoia as ps
import pytest

from services.crypto.sequoia_errors import SequoiaFailure, classify

RELEASE = version("pysequoia")


def failure_of(action: Callable[[], object]) -> SequoiaFailure:
    with pytest.raises((RuntimeError, ValueError)) as err:
        action()
    found = classify(err.value)
    assert found is not SequoiaFailure.OTHER, f"pysequoia {RELEASE} said: {err.value}"
    return found


@pytest.fixture(scope="module")
def tsk() -> ps.Tsk:
    return ps.Tsk.generate("Reader <reader@example.org>")


def test_a_passphrase_for_a_key_without_one(tsk: ps.Tsk) -> None:
    assert failure_of(lambda: tsk.signer("a passphrase")) is SequoiaFailure.NOT_ENCRYPTED
    assert failure_of(lambda: tsk.decryptor("a passphrase")) is SequoiaFailure.NOT_ENCRYPTED


def test_a_message_for_another_key_or_password(tsk: ps.Tsk) -> None:
    other = ps.Tsk.generate("Other <other@example.org>")
    for_other = ps.encrypt(recipients=[other.extract_certificate()], bytes=b"not for you")
    assert failure_of(lambda: ps.decrypt(for_other, tsk.decryptor(None))) is SequoiaFailure.NO_KEY
    locked = ps.encrypt(passwords=["right"], bytes=b"x")
    assert failure_of(lambda: ps.decrypt(locked, passwords=["wrong"])) is SequoiaFailure.NO_KEY


@pytest.mark.parametrize("profile", [ps.Profile.RFC4880, ps.Profile.RFC9580])
def test_a_changed_byte_in_an_encrypted_message(profile: ps.Profile) -> None:
    # Sequoia reports a manipulated message as one whose session key it could not decrypt;
    # the engine then tells "not for this key" from "damaged" by the recipients it names.
    key = ps.Tsk.generate("Reader <reader@example.org>", profile=profile)
    raw = bytearray(
        ps.encrypt(recipients=[key.extract_certificate()], bytes=b"record " * 100, armor=False)
    )
    raw[len(raw) // 2] ^= 0x01
    failure = failure_of(lambda: ps.decrypt(bytes(raw), key.decryptor(None)))
    assert failure in (SequoiaFailure.NO_SESSION_KEY, SequoiaFailure.MANIPULATED)


def test_a_signature_by_no_key_we_were_given(tsk: ps.Tsk) -> None:
    signer = ps.Tsk.generate("Server <server@example.org>")
    stranger = ps.Tsk.generate("Stranger <stranger@example.org>").extract_certificate()
    message = ps.encrypt(
        recipients=[tsk.extract_certificate()], bytes=b"signed", signer=signer.signer(None)
    )
    assert (
        failure_of(lambda: ps.decrypt(message, tsk.decryptor(None), store=lambda _: [stranger]))
        is SequoiaFailure.NO_VALID_SIGNATURE
    )


def test_anything_else_is_other() -> None:
    assert classify(RuntimeError("Malformed packet: something new")) is SequoiaFailure.OTHER
    # only the first line counts: a backtrace mentioning a phrase changes nothing
    assert classify(RuntimeError("odd\n  at policy rejected (src/x.rs)")) is SequoiaFailure.OTHER
