"""The personal log server: each user's records, encrypted to their key, in their own group.

Public API (everything else here is internal to onboarding, the group panel and delivery)::

    logserver: LogServerService          # AppDeps field `logserver`
    result = await logserver.record(user_id, RecordKind.BILLING, {"event": "payment", ...})

`record(user_id, kind, body)` checks that the user has an active log server and hands `body` (a
JSON-serialisable mapping) to this process's record writer, which seals it as a Context-Lock record
for the user's group and topic and stores the ciphertext in the outbox, in its own transaction. It
returns at once — it waits neither for Telegram nor for the caller's database locks — and never
raises; it returns a `RecordResult`:

* ``QUEUED`` — accepted; sealed and stored within milliseconds (`await logserver.flush()` waits
  for that), then delivered by the worker;
* ``NO_LOG_SERVER`` — the user has no log server (or no key yet): nothing was stored;
* ``PAUSED`` — the user paused logging: nothing was stored;
* ``FAILED`` — could not be sealed or stored (logged with the user id only).

Kinds (`RecordKind`): ``chat`` (Conversations), ``billing``, ``audit``, ``system``; a plain string
of the same value is accepted. `record_in(session, ...)` does the same inside the caller's
transaction, synchronously (the record exists only if the caller commits; on SQLite that holds
the write lock); call `logserver.wake.set()` after the commit.
For the admin panel: `count_connected(session)` and `queue_depth(session)`.

Delivery (`DeliveryWorker`, started on dispatcher start-up) is described in `delivery.py`.
"""

from services.logserver.config import LogServerSettings
from services.logserver.service import (
    AlreadyLinked,
    LogServerService,
    count_connected,
    queue_depth,
)
from services.logserver.types import RecordKind, RecordResult

__all__ = [
    "AlreadyLinked",
    "LogServerService",
    "LogServerSettings",
    "RecordKind",
    "RecordResult",
    "count_connected",
    "queue_depth",
]
