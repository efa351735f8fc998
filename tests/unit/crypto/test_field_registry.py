"""The registry of encrypted and keyed-hash columns (``bot.db.encrypted``) misses none of them.

Master-key rotation re-encrypts exactly what the models declare; a column left out would stay
under the old key and be lost when it is removed. Three independent views must agree with the
registry: docs/privacy.md's inventory (itself held to the schema by test_privacy_schema.py), the
column names, and the purposes the services encrypt and hash with.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text

from bot.db.encrypted import Encrypted, LookupHash, Rehash, encrypted, lookup_hash, registry
from bot.db.models import Base
from services.admin.identity import USERNAME_PURPOSE
from services.ai.context import PURPOSE_SCOPE as AI_SCOPE
from services.ai.context import PURPOSE_SUMMARY, PURPOSE_TURN
from services.ai.keys import PURPOSE_KEY
from services.ai.preferences import PURPOSE_PERSONA
from services.concierge import desk as concierge_desk
from services.concierge import sessions as concierge_sessions
from services.crypto.server_keys import PASSPHRASE_PURPOSE, SECRET_PURPOSE
from services.crypto.user_key_store import PURPOSE_USER_KEY
from services.logserver.link import PURPOSE_CHAT_HASH, PURPOSE_LINK
from services.logserver.outbox import PURPOSE_BODY
from services.rooms.context import PURPOSE_SCOPE as ROOM_SCOPE
from services.rooms.context import PURPOSE_TURN as ROOM_TURN
from services.rooms.service import PURPOSE_CHAT, PURPOSE_CHAT_ID
from tests.integration.privacy_inventory import DOC, parse_tables

# The purpose each service encrypts or hashes the column with: a registry entry under another
# purpose would make the rotation fail ("tampered") on real rows.
PURPOSES = {
    "users.username_hash": USERNAME_PURPOSE,
    "ai_preferences.custom_persona": PURPOSE_PERSONA,
    "ai_turns.content": PURPOSE_TURN,
    "ai_turns.scope": AI_SCOPE,
    "ai_summaries.content": PURPOSE_SUMMARY,
    "ai_summaries.scope": AI_SCOPE,
    "ai_keys.ciphertext": PURPOSE_KEY,
    "crypto_server_keys.secret_key": SECRET_PURPOSE,
    "crypto_server_keys.passphrase": PASSPHRASE_PURPOSE,
    "log_servers.public_key": PURPOSE_USER_KEY,
    "log_servers.chat_enc": PURPOSE_LINK,
    "log_servers.chat_hash": PURPOSE_CHAT_HASH,
    "log_outbox.body_enc": PURPOSE_BODY,
    "rooms.chat_key": PURPOSE_CHAT,
    "rooms.chat_enc": PURPOSE_CHAT_ID,
    "room_turns.content": ROOM_TURN,
    "room_turns.scope": ROOM_SCOPE,
    "concierge_desk.chat_key": concierge_desk.PURPOSE_CHAT,
    "concierge_desk.chat_enc": concierge_desk.PURPOSE_CHAT_ID,
    "concierge_sessions.name_enc": concierge_sessions.PURPOSE_NAME,
    "concierge_relays.content": concierge_sessions.PURPOSE_RELAY,
}

# Names that suggest a token or a keyed hash.
SUSPICIOUS = re.compile(r"(hash|_enc$|cipher|secret|passphrase|^scope$|^content$|_key$)")
# Columns with such a name that hold neither, and why.
NOT_FIELD_CRYPTO = {
    "crypto_server_keys.public_key": "the server's OpenPGP public key: published, not personal",
}


def test_every_protected_column_of_the_inventory_is_in_the_registry() -> None:
    declared = {c.name: c for c in registry(Base.metadata)}
    inventory = parse_tables(DOC.read_text(encoding="utf-8"))
    for kind, spec in (("aes-gcm", Encrypted), ("hmac", LookupHash)):
        listed = {f"{e.table}.{e.column}" for e in inventory if e.at_rest == kind}
        of_kind = {name for name, c in declared.items() if isinstance(c.spec, spec)}
        assert listed - of_kind == set(), f"{kind} columns missing from the registry"
        assert of_kind - listed == set(), f"{kind} columns the inventory does not list"


def test_every_column_named_like_a_token_or_hash_is_declared() -> None:
    declared = {c.name for c in registry(Base.metadata)}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            name = f"{table.name}.{column.name}"
            if SUSPICIOUS.search(column.name) and name not in NOT_FIELD_CRYPTO:
                assert name in declared, f"{name}: declare it with encrypted() or lookup_hash()"


def test_purposes_and_bindings_are_those_the_services_use() -> None:
    declared = {c.name: c.spec for c in registry(Base.metadata)}
    assert {name: spec.purpose for name, spec in declared.items()} == PURPOSES
    binds = {n: s.bind for n, s in declared.items() if isinstance(s, Encrypted)}
    assert binds["ai_keys.ciphertext"] == ("user_id", "provider")  # KeyStore._row_id
    assert binds["log_outbox.body_enc"] == ("user_id", "seq")  # outbox_row_id
    assert binds["crypto_server_keys.secret_key"] == ("fingerprint",)
    assert binds["room_turns.content"] == ("room_id",)
    assert binds["rooms.chat_enc"] == ("id",)
    assert binds["ai_turns.content"] == ("user_id",)  # bound to the user, not the row
    row = {"user_id": 7, "provider": "openai", "seq": 3}
    assert Encrypted("p", ("user_id", "provider")).row_id(row) == "7:openai"
    assert Encrypted("p").row_id(row) is None


def test_hashes_say_how_they_come_under_a_new_key() -> None:
    declared = {c.name: c.spec for c in registry(Base.metadata)}
    how = {n: s.rehash for n, s in declared.items() if isinstance(s, LookupHash)}
    assert how == {
        "users.username_hash": Rehash.ON_CONTACT,
        "ai_turns.scope": Rehash.EXPIRES,
        "ai_summaries.scope": Rehash.EXPIRES,
        "room_turns.scope": Rehash.EXPIRES,
        "log_servers.chat_hash": Rehash.FROM_SOURCE,
        "rooms.chat_key": Rehash.FROM_SOURCE,
        "concierge_desk.chat_key": Rehash.FROM_SOURCE,
    }


def test_a_declaration_naming_a_missing_or_plain_column_is_refused() -> None:
    metadata = MetaData()
    Table(
        "t",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("value", Text, info=encrypted("p", bind=("nope",))),
    )
    with pytest.raises(LookupError, match="nope"):
        registry(metadata)
    metadata = MetaData()
    Table(
        "t",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("plain", Text),
        Column("h", String(64), info=lookup_hash("p", source="plain")),
    )
    with pytest.raises(LookupError, match="not encrypted"):
        registry(metadata)
    with pytest.raises(ValueError, match="refreshed"):
        LookupHash("p", Rehash.ON_CONTACT)
    with pytest.raises(ValueError, match="source"):
        LookupHash("p", Rehash.FROM_SOURCE)
