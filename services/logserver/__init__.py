"""The personal log server: each user's records, encrypted to their key, in their own group.

Public API (everything else here is internal to onboarding, the group panel and delivery)::

    logserver: LogServerService          # AppDeps field `logserver`
    result = await logserver.record(user_id, RecordKind.BILLING, {"event": "payment", ...})

`record(user_id, kind, body)` checks that the user has an active (or temporarily unreachable)
log server, takes the next sequence number and stores the record in the outbox — its body
field-encrypted — in its own transaction. It returns once that is committed, without waiting for
Telegram, and never raises; it returns a `RecordResult`:

* ``QUEUED`` — stored; a crash from now on loses nothing. The delivery worker seals it (signed,
  encrypted to the user's key, chained to the record delivered before it) when it sends it;
* ``NO_LOG_SERVER`` — the user has no log server (or no key yet): nothing was stored;
* ``PAUSED`` — the user paused logging: nothing was stored;
* ``FAILED`` — could not be stored (logged with the user id only).

Kinds (`RecordKind`): ``chat`` (Conversations), ``billing``, ``audit``, ``system``; a plain string
of the same value is accepted. `record_in(session, ...)` does the same inside the caller's
transaction (the record exists only if the caller commits); call `logserver.wake.set()` after
the commit.
For the admin panel: `count_connected(session)` and `queue_depth(session)`.

Delivery (`DeliveryWorker`, started on dispatcher start-up) is described in `delivery.py`; what
each other module holds, in `service.py`.
"""

from services.logserver.config import LogServerSettings
from services.logserver.link import AlreadyLinked
from services.logserver.outbox import queue_depth
from services.logserver.service import LogServerService, count_connected
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
