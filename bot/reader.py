"""``python -m bot.reader``: verify and decrypt a Libral log group export. See docs/reader.md.

Exit status: 0 all records verified, 1 problems found (see the report), 2 unusable input.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.i18n import Translator
from services.crypto import reader
from services.crypto.port import KeyErrorKind, KeyImportError, OpenPGPEngine
from services.crypto.records import ContextLock, RecordContext

PASSPHRASE_VAR = "LIBRAL_KEY_PASSPHRASE"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot.reader",
        description="Verify and decrypt Libral log records from a Telegram Desktop export "
        "(result.json or its folder) or from .asc files.",
    )
    p.add_argument("inputs", nargs="+", type=Path, help="result.json, its folder, or .asc files")
    p.add_argument("--key", required=True, type=Path, help="your secret key (.asc)")
    p.add_argument(
        "--server-key",
        action="append",
        type=Path,
        default=[],
        help="Libral's public key from /serverkey (repeat for older keys); default: "
        "libral-server-*.asc next to the inputs or in the current folder",
    )
    p.add_argument("--out", type=Path, help="transcript file (default: transcript.md; - = stdout)")
    p.add_argument("--lang", choices=("ja", "en"), help="report language (default: from LANG)")
    p.add_argument("--chat-id", type=int, help="for .asc files: the group they came from")
    p.add_argument("--thread-id", type=int, help="for .asc files: the topic they came from")
    p.add_argument("--engine", choices=("sequoia", "gnupg"), default="sequoia")
    return p


def _engine(name: str) -> OpenPGPEngine:
    if name == "gnupg":
        import tempfile

        from services.crypto.gnupg_engine import GnupgEngine

        return GnupgEngine(tempfile.mkdtemp(prefix="libral-reader-"))
    from services.crypto.sequoia_engine import SequoiaEngine

    return SequoiaEngine()


def _server_keys(given: list[Path], inputs: list[Path]) -> list[str]:
    paths = list(given)
    if not paths:
        folders = {p if p.is_dir() else p.parent for p in inputs} | {Path.cwd()}
        for folder in sorted(folders):
            paths += sorted(folder.glob("libral-server-*.asc"))
    return [p.read_text(encoding="utf-8") for p in paths]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    lang = args.lang or ("en" if os.environ.get("LANG", "").startswith("en") else "ja")
    translator = Translator()

    def t(key: str, **kw: Any) -> str:
        return translator.get(lang, key, **kw)

    try:
        secret = args.key.read_text(encoding="utf-8")
    except OSError as exc:
        print(t("crypto-reader-bad-key", reason=exc.strerror or str(exc)), file=sys.stderr)
        return 2
    passphrase = os.environ.get(PASSPHRASE_VAR)
    if passphrase is None and sys.stdin.isatty():
        passphrase = getpass.getpass("Passphrase / パスフレーズ: ") or None
    engine = _engine(args.engine)
    try:
        engine.inspect_secret_key(secret, passphrase)
    except KeyImportError as exc:
        if exc.kind in (KeyErrorKind.BAD_PASSPHRASE, KeyErrorKind.NOT_OPENPGP):
            reason = t(f"crypto-key-error-{exc.kind.value}")
            print(t("crypto-reader-bad-key", reason=reason), file=sys.stderr)
            return 2
    certs = _server_keys(args.server_key, args.inputs)
    if not certs:
        print(t("crypto-reader-no-server-key"), file=sys.stderr)
    found: list[reader.FoundRecord] = []
    findings: list[reader.Finding] = []
    title = ""
    asc = [p for p in args.inputs if p.suffix.lower() in (".asc", ".pgp", ".gpg", ".txt")]
    ctx = RecordContext(args.chat_id, args.thread_id) if args.chat_id is not None else None
    try:
        for path in args.inputs:
            if path in asc:
                continue
            title, more, notes = reader.records_from_export(path)
            found += more
            findings += notes
    except reader.ExportError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    found += reader.records_from_asc(asc, ctx)
    lock = ContextLock(engine, None, certs)
    result = reader.verify(title or "records", found, lock, secret, passphrase, findings)
    text = reader.render_markdown(result, t)
    if args.out is not None and str(args.out) == "-":
        sys.stdout.write(text)
    else:
        out = args.out or Path("transcript.md")
        out.write_text(text, encoding="utf-8")
        print(t("crypto-reader-written", path=str(out)))
    return 0 if result.clean and certs else 1


if __name__ == "__main__":
    raise SystemExit(main())
