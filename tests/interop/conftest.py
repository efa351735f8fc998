from tests.crypto_support import (
    any_engine,
    gnupg_engine,
    gpg_keys,
    other_server_key,
    sequoia,
    server_key,
    user_v4,
    user_v6,
)

__all__ = [
    "any_engine",
    "gnupg_engine",
    "gpg_keys",
    "other_server_key",
    "sequoia",
    "server_key",
    "user_v4",
    "user_v6",
]
