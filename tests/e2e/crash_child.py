"""A real bot process for the crash test: runs the application (polling the emulator, the
delivery worker on) and records events; the test kills it with SIGKILL.

    python -m tests.e2e.crash_child SETTINGS_PICKLE USER_ID COUNT

Prints ``QUEUED <n>`` for each `record()` that returned ``QUEUED`` (anything else as
``RESULT <n> <value>``), then ``DONE``, then serves until killed.
"""

from __future__ import annotations

import asyncio
import pickle
import sys
from pathlib import Path

from bot.app import build, run
from bot.settings import Settings
from services.logserver import LogServerService, RecordKind, RecordResult


async def main(settings: Settings, user_id: int, count: int) -> None:
    app = build(settings)
    stop = asyncio.Event()
    serving = asyncio.create_task(run(app, stop))
    service = app.dispatcher["logserver"]
    assert isinstance(service, LogServerService)
    # Several at once, as concurrent updates would record them.
    for start in range(0, count, 20):
        batch = range(start, min(count, start + 20))
        results = await asyncio.gather(
            *(service.record(user_id, RecordKind.CHAT, {"n": n}) for n in batch)
        )
        for n, result in zip(batch, results, strict=True):
            if result is RecordResult.QUEUED:
                print(f"QUEUED {n}", flush=True)
            else:
                print(f"RESULT {n} {result.value}", flush=True)
    print("DONE", flush=True)
    await serving


if __name__ == "__main__":
    loaded = pickle.loads(Path(sys.argv[1]).read_bytes())
    assert isinstance(loaded, Settings)
    asyncio.run(main(loaded, int(sys.argv[2]), int(sys.argv[3])))
