"""`python -m bot`: read settings, build the application, serve until SIGTERM/SIGINT.

`python -m bot rotate-master-key [--batch-size N]`: re-encrypt and re-hash the stored data under
the current master key after a rotation (docs/crypto.md, "Master key").
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bot import rotate
from bot.app import StartupError, build, run
from bot.settings import Settings, SettingsError, load_settings


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Libral bot")
    commands = parser.add_subparsers(dest="command")
    rotate = commands.add_parser(
        "rotate-master-key",
        help="re-encrypt and re-hash stored data under the current master key",
        description="Run after making the new key CRYPTO__MASTER_KEY and the old one "
        "CRYPTO__OLD_MASTER_KEYS (and restarting the bot). Safe to run again.",
    )
    rotate.add_argument("--batch-size", type=int, default=500, help="rows per transaction")
    args = parser.parse_args(argv)
    if args.command == "rotate-master-key" and args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        # One line an operator can act on; no traceback.
        print(f"libral: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "rotate-master-key":
        raise SystemExit(asyncio.run(rotate.run(settings, batch_size=args.batch_size)))
    try:
        asyncio.run(_serve(settings))
    except StartupError as exc:
        # Like a configuration error: one line an operator can act on, no traceback.
        print(f"libral: cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


async def _serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run(build(settings), stop)


if __name__ == "__main__":
    main()
