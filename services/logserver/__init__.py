"""The personal log server: each user's records, encrypted to their key, in their own group.

Public API (everything else here is internal to onboarding, the group panel and delivery)::

    logserver: LogServerService          # AppDeps field `logserver`
    result = await logserver.record(user_id, RecordKind.BILLING, {"event": "payment", ...})

`record(user_id, kind, body)` seals `body` (a JSON-serialisable mapping) as a Context-Lock record
for the user's group and topic, queues the ciphertext in the outbox and returns at once; it never
waits for Telegram and never raises — it returns a `RecordResult`:

* ``QUEUED`` — sealed and waiting for the delivery worker;
* ``NO_LOG_SERVER`` — the user has no log server (or no key yet): nothing was stored;
* ``PAUSED`` — the user paused logging: nothing was stored;
* ``FAILED`` — could not be sealed or stored (logged with the user id only).

Kinds (`RecordKind`): ``chat`` (Conversations), ``billing``, ``audit``, ``system``; a plain string
of the same value is accepted. `record_in(session, ...)` does the same inside the caller's
transaction (the record is queued only if the caller commits); call `logserver.wake.set()` after
the commit. For the admin panel: `count_connected(session)` and `queue_depth(session)`.

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
