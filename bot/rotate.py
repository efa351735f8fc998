"""``python -m bot rotate-master-key``: the operator's master-key rotation (docs/crypto.md).

Before running it: the new key is ``CRYPTO__MASTER_KEY``, the old one is in
``CRYPTO__OLD_MASTER_KEYS``, and the bot has been restarted with both (so everything it writes from
then on is under the new key). The command re-encrypts and re-hashes what is stored, prints what it
did per column, and says when the old key may be removed. Safe to run again at any time.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from bot.db.encrypted import Rehash
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.models import Base
from bot.settings import Settings
from services.crypto.fields import FieldCipher, MasterKeyError
from services.crypto.rotation import ColumnCount, RotationReport, rotate_master_key

EXIT_DONE = 0
EXIT_NOT_DONE = 1  # something is still under an old key: the report says what
EXIT_CONFIG = 2


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render(report: RotationReport) -> list[str]:
    """The report as the operator reads it (no personal data: counts and column names)."""
    lines = [
        f"current master key: {report.key_id}",
        "old master keys still readable: " + (", ".join(report.old_key_ids) or "none"),
        "",
        f"{'column':<32} {'kind':<8} {'values':>7} {'rewritten':>9} {'unreadable':>10} "
        f"{'changed meanwhile':>17}",
    ]
    for c in report.columns:
        lines.append(
            f"{c.name:<32} {c.kind:<8} {c.rows:>7} {c.rewritten:>9} {c.unreadable:>10} "
            f"{c.raced:>17}"
        )
    if report.pending:
        lines += ["", "keyed hashes whose value is not stored (not recomputable):"]
    for p in report.pending:
        if p.rehash is Rehash.EXPIRES:
            gone = f"all gone by {_when(p.until)}" if p.until else "none left"
            lines.append(
                f"  {p.name}: {p.rows} rows (24-hour data), found under every known key; {gone}"
            )
        else:
            lines.append(
                f"  {p.name}: {p.rows} rows not refreshed since this run began; each is rewritten"
                " when its user next writes to the bot (until then an @username look-up needs the"
                " old key; a look-up by id always works)"
            )
    lines.append("")
    after = report.old_key_removable_after
    if after is not None:
        lines.append(
            "done: every encrypted value and every recomputable hash is under the current key."
        )
        if after <= report.started_at:
            lines.append("the old master key may be removed now (CRYPTO__OLD_MASTER_KEYS).")
        else:
            lines.append(
                f"the old master key may be removed after {_when(after)} "
                "(CRYPTO__OLD_MASTER_KEYS), when the 24-hour rows hashed under it are gone."
            )
        return lines
    lines.append("NOT done: keep the old master key.")
    if report.unreadable:
        lines.append(
            f"  {report.unreadable} values open under no known key (or a room not used since it"
            " got its encrypted chat id): add the key they were written under to"
            " CRYPTO__OLD_MASTER_KEYS, or wait for rooms to be used, and run this again."
        )
    if report.raced:
        lines.append(
            f"  {report.raced} values were changed by the bot while this ran: run this again."
        )
    return lines


def _settings_problem(settings: Settings) -> str | None:
    crypto = settings.crypto
    if crypto.master_key is None and not crypto.master_key_file.exists():
        # The embedded default would generate a fresh key here: nothing would open.
        return (
            f"no master key: CRYPTO__MASTER_KEY is unset and {crypto.master_key_file} does not"
            " exist (run this where the bot runs, with its settings)"
        )
    return None


async def run(
    settings: Settings, *, batch_size: int = 500, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    problem = _settings_problem(settings)
    if problem is not None:
        print(f"libral: {problem}", file=err)
        return EXIT_CONFIG
    try:
        cipher = FieldCipher.from_settings(settings.crypto)
    except MasterKeyError as exc:
        print(f"libral: {exc}", file=err)
        return EXIT_CONFIG
    if len(cipher.key_ids) == 1:
        print(
            "libral: no old master key given (CRYPTO__OLD_MASTER_KEYS): values under another key"
            " cannot be read, only counted",
            file=err,
        )
    engine = create_engine(settings.database_url)

    def progress(count: ColumnCount) -> None:
        print(f"  {count.name}: {count.rows} values checked", file=err)

    try:
        report = await rotate_master_key(
            create_sessionmaker(engine),
            Base.metadata,
            cipher,
            batch_size=batch_size,
            progress=progress,
        )
    except SQLAlchemyError as exc:
        print(f"libral: database error ({type(exc).__name__}); is the schema migrated?", file=err)
        return EXIT_NOT_DONE
    finally:
        await engine.dispose()
    for line in render(report):
        print(line, file=out)
    return EXIT_DONE if report.old_key_removable_after is not None else EXIT_NOT_DONE
