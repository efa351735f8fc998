"""The user's public key at rest (``log_servers.public_key``): field-encrypted, so neither the
user ids it carries (a name, an e-mail address) nor the key itself are in the database in clear.

The token is bound to the user's id (a key copied to another row does not decrypt). Values
written before this existed are armored text; :func:`open_user_key` still reads them and the
``0008_keyenc`` migration encrypts them.
"""

from __future__ import annotations

from services.crypto.fields import FieldCipher

PURPOSE_USER_KEY = "logserver-public-key"
_ARMOR = "-----BEGIN PGP"


def seal_user_key(cipher: FieldCipher, user_id: int, armored: str) -> str:
    """The stored form of the user's armored public key."""
    return cipher.encrypt(PURPOSE_USER_KEY, armored, row_id=user_id)


def open_user_key(cipher: FieldCipher, user_id: int, stored: str) -> str:
    """The armored public key from its stored form (legacy plaintext passes through)."""
    if stored.lstrip().startswith(_ARMOR):
        return stored
    return cipher.decrypt_str(PURPOSE_USER_KEY, stored, row_id=user_id)


def is_sealed(stored: str) -> bool:
    return not stored.lstrip().startswith(_ARMOR)
