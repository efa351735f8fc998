"""Log server pieces without Telegram or a database: the message format, batching,
the check report's locale keys."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.i18n import Translator
from bot.settings import SUPPORTED_LOCALES
from services.crypto import KeyErrorKind
from services.logserver.config import LogServerSettings
from services.logserver.delivery import DeliveryWorker, _Planned
from services.logserver.format import MAX_TEXT, Outgoing, as_document, as_message, split_armored
from services.logserver.onboarding import _ALL_RIGHTS, bot_rights, startgroup_admin_param
from services.logserver.types import CheckProblem, CheckWarning, RecordKind
from services.sendbudget import MemoryStore, SendBudget, SendBudgetSettings

ARMOR = "-----BEGIN PGP MESSAGE-----\n\nwV4DAAAA\n=abcd\n-----END PGP MESSAGE-----\n"
DAY = datetime(2026, 11, 22, 23, 59, tzinfo=UTC)


def test_a_message_is_header_then_ciphertext_and_nothing_else() -> None:
    text = as_message(Outgoing((41,), RecordKind.BILLING, ARMOR, DAY))
    assert text == ("#billing #d20261122\nbilling · seq 41\n<pre>" + ARMOR.strip() + "</pre>")


def test_a_record_too_long_for_a_message_goes_as_a_document() -> None:
    long = ARMOR.replace("wV4DAAAA", "A" * MAX_TEXT)
    assert as_message(Outgoing((1,), RecordKind.CHAT, long, DAY)) is None
    name, content, caption = as_document(Outgoing((1,), RecordKind.CHAT, long, DAY))
    assert name == "libral-chat-000001.asc"
    assert caption == "#chat #d20261122\nchat · seq 1"
    assert split_armored(content.decode()) == [long.strip() + "\n"]


def test_a_coalesced_document_is_one_message_in_one_file() -> None:
    """Several records travel as one OpenPGP message (one `gpg --decrypt`), never as several
    messages concatenated in one file."""
    document = Outgoing((7, 8, 9), RecordKind.AUDIT, ARMOR, DAY)
    assert document.is_document
    assert as_message(document) is None  # a document is always a file, however short
    name, content, caption = as_document(document)
    assert name == "libral-audit-000007-000009.asc"
    assert caption == "#audit #d20261122\naudit · seq 7–9 (3)"
    assert split_armored(content.decode()) == [ARMOR]
    with pytest.raises(ValueError):
        Outgoing((), RecordKind.AUDIT, ARMOR, DAY)


def _worker(group_per_minute: int, **settings: object) -> DeliveryWorker:
    worker = DeliveryWorker.__new__(DeliveryWorker)
    worker.cfg = LogServerSettings(**settings)
    worker.budget = SendBudget(SendBudgetSettings(group_per_minute=group_per_minute), MemoryStore())
    return worker


def test_batching_sends_singles_while_slots_last_then_one_topic_run() -> None:
    worker = _worker(group_per_minute=20, coalesce_max=3)
    rows = [_Planned(n, n, "chat") for n in range(8)] + [_Planned(8, 8, "billing")]
    # 9 queued, 20 free but half kept in reserve: 9 ≤ 10, one at a time.
    assert [p.seq for p in worker._batch(rows, 20)] == [0]
    # 9 queued, 12 free → 2 beyond the reserve: coalesce the leading chat run, up to 3.
    assert [p.seq for p in worker._batch(rows, 12)] == [0, 1, 2]
    # A run stops at a change of kind (topic) and at a gap in the sequence.
    assert [p.seq for p in worker._batch([rows[7], rows[8]], 1)] == [7]
    gap = [_Planned(1, 1, "chat"), _Planned(3, 3, "chat")]
    assert [p.seq for p in worker._batch(gap, 0)] == [1]


def test_the_bot_asks_for_three_rights_only() -> None:
    granted = {k for k, v in bot_rights().model_dump().items() if v}
    assert granted == {"can_manage_topics", "can_delete_messages", "can_pin_messages"}
    assert startgroup_admin_param() == "manage_topics+delete_messages+pin_messages"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_dynamic_key_exists(locale: str) -> None:
    translator = Translator()
    keys = [f"logserver-check-{p.value}" for p in CheckProblem]
    keys += [f"logserver-warn-{w.value}" for w in CheckWarning]
    keys += [f"logserver-key-{k.value}" for k in KeyErrorKind]
    keys += [f"logserver-right-{r.replace('_', '-')}" for r in _ALL_RIGHTS]
    keys += [f"logserver-topic-{k.value}" for k in RecordKind]
    keys += [f"logserver-state-{s}" for s in ("active", "paused", "disconnected", "awaiting-key")]
    keys += [
        f"logserver-{p}-{r}"
        for p in ("reason", "disconnected")
        for r in ("removed", "rights", "topic")
    ]
    keys += ["logserver-confirm-purge", "logserver-confirm-disc"]
    missing = [k for k in keys if not translator.has(locale, k)]
    assert not missing


def test_only_the_send_budget_handles_429s() -> None:
    """One send budget (bot/sendbudget.py) paces every Bot API call and waits out 429s; no
    feature catches `TelegramRetryAfter` itself (the panel editor once did)."""
    root = Path(__file__).resolve().parents[2]
    allowed = {root / "bot" / "sendbudget.py"}
    found = [
        str(path.relative_to(root))
        for folder in ("bot", "handlers", "services", "middlewares", "keyboards")
        for path in (root / folder).rglob("*.py")
        if path not in allowed and "TelegramRetryAfter" in path.read_text("utf-8")
    ]
    assert found == []
