"""What went wrong inside pysequoia, from the one thing it tells us.

pysequoia raises plain ``RuntimeError``/``ValueError`` whose text is Sequoia's error chain (with
a Rust backtrace appended when enabled); it exports no exception types to tell failures apart.
So the text is read here, in one place, against a table of the phrases we rely on, and
tests/unit/crypto/test_sequoia_errors.py provokes each failure with the installed release: an
upgrade (the lockfile pins one) that words a failure differently fails that test, not a user.
"""

from __future__ import annotations

from enum import StrEnum


class SequoiaFailure(StrEnum):
    NOT_ENCRYPTED = "not-encrypted"  # a passphrase given for a key that has none
    NO_SIGNING_KEY = "no-signing-key"
    POLICY_REJECTED = "policy-rejected"  # an algorithm Sequoia's standard policy refuses
    MANIPULATED = "manipulated"  # the integrity check of an encrypted message failed
    NO_KEY = "no-key"  # none of our keys (or passwords) opens the message
    NO_SESSION_KEY = "no-session-key"
    NO_VALID_SIGNATURE = "no-valid-signature"  # decrypted, but no signer we were given
    OTHER = "other"


# Lower-case phrases, checked in this order against the first line of the error.
_PHRASES: tuple[tuple[str, SequoiaFailure], ...] = (
    ("not encrypted", SequoiaFailure.NOT_ENCRYPTED),
    ("no signing", SequoiaFailure.NO_SIGNING_KEY),
    ("policy rejected", SequoiaFailure.POLICY_REJECTED),
    ("not considered secure", SequoiaFailure.POLICY_REJECTED),
    ("manipulated", SequoiaFailure.MANIPULATED),
    ("no key to decrypt", SequoiaFailure.NO_KEY),
    ("session key", SequoiaFailure.NO_SESSION_KEY),
    ("no valid signatures", SequoiaFailure.NO_VALID_SIGNATURE),
)


def first_line(exc: BaseException) -> str:
    return str(exc).split("\n", 1)[0]  # pysequoia appends a Rust backtrace when enabled


def classify(exc: BaseException) -> SequoiaFailure:
    text = first_line(exc).lower()
    for phrase, failure in _PHRASES:
        if phrase in text:
            return failure
    return SequoiaFailure.OTHER
