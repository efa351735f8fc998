"""A real bot process for the payment crash test: runs the application (polling the emulator)
until the test kills it with SIGKILL.

    python -m tests.e2e.pay_crash_child SETTINGS_PICKLE
"""

from __future__ import annotations

import asyncio
import pickle
import sys
from pathlib import Path

from bot.app import build, run
from bot.settings import Settings


async def main(settings: Settings) -> None:
    await run(build(settings), asyncio.Event())


if __name__ == "__main__":
    loaded = pickle.loads(Path(sys.argv[1]).read_bytes())
    assert isinstance(loaded, Settings)
    asyncio.run(main(loaded))
