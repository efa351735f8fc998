"""OpenPGP (Context-Lock records, user and server keys) and field encryption at rest."""

from services.crypto.config import CryptoSettings
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
    OpenPGPEngine,
    SigningKey,
)
from services.crypto.records import (
    GENESIS_DIGEST,
    ContextLock,
    LogRecord,
    RecordContext,
    RecordOpenError,
    RecordProblem,
    SealedRecord,
    VerifiedRecord,
)
from services.crypto.user_keys import generate_user_key, import_user_key, new_passphrase

__all__ = [
    "GENESIS_DIGEST",
    "ContextLock",
    "CryptoSettings",
    "DecryptError",
    "DecryptErrorKind",
    "Decrypted",
    "GeneratedKey",
    "KeyErrorKind",
    "KeyImportError",
    "KeyInfo",
    "KeyVersion",
    "LogRecord",
    "MessageFormat",
    "OpenPGPEngine",
    "RecordContext",
    "RecordOpenError",
    "RecordProblem",
    "SealedRecord",
    "SigningKey",
    "VerifiedRecord",
    "generate_user_key",
    "import_user_key",
    "new_passphrase",
]
