"""``python -m bot.reader``: verify and decrypt a Libral log group export. See docs/reader.md.

Exit status: 0 every record verified and the log complete up to its signed head; 1 anything
unverified (see the report); 2 unusable input (one line on stderr per problem, no traceback).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pysequoia as ps

from bot.i18n import Translator
from services.crypto import cleartext, reader
from services.crypto.gnupg_engine import GnupgEngine
from services.crypto.port import KeyErrorKind, KeyImportError, OpenPGPEngine
from services.crypto.records import ContextLock, RecordContext
from services.crypto.sequoia_engine import SequoiaEngine

PASSPHRASE_VAR = "LIBRAL_KEY_PASSPHRASE"
ASC_SUFFIXES = (".asc", ".pgp", ".gpg", ".txt")
Translate = Callable[..., str]


class InputError(Exception):
    """One problem with the input; the message is already localised."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot.reader",
        description="Verify and decrypt Libral log records from a Telegram Desktop export "
        "(result.json or its folder) or from .asc files.",
    )
    p.add_argument("inputs", nargs="+", type=Path, help="result.json, its folder, or .asc files")
    p.add_argument(
        "--key",
        required=True,
        action="append",
        type=Path,
        help="your secret key, armored (.asc) or binary (.gpg/.key); repeat it for keys "
        "from before a rotation",
    )
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
        return GnupgEngine(tempfile.mkdtemp(prefix="libral-reader-"))
    return SequoiaEngine()


def _read(file: Path, t: Translate, key: str, **names: str) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise InputError(t(key, reason=exc.strerror or str(exc), **names)) from exc


def _server_keys(given: list[Path], inputs: list[Path], t: Translate) -> list[str]:
    paths = list(given)
    if not paths:
        folders = {p if p.is_dir() else p.parent for p in inputs} | {Path.cwd()}
        for folder in sorted(folders):
            paths += sorted(folder.glob("libral-server-*.asc"))
    certs: list[str] = []
    for path in paths:
        data = _read(path, t, "reader-server-key-unreadable", path=str(path))
        try:
            certs.append(str(ps.Cert.from_bytes(data)))
        except (RuntimeError, ValueError) as exc:
            reason = str(exc).split("\n", 1)[0]
            raise InputError(
                t("reader-server-key-unreadable", path=str(path), reason=reason)
            ) from exc
    return certs


def _passphrases(name: str, t: Translate) -> Iterator[str | None]:
    """Passphrases to try for one key: none, the environment's, else one typed at a prompt
    (asked only when the key turns out to be protected)."""
    yield None
    env = os.environ.get(PASSPHRASE_VAR)
    if env is not None:
        yield env
    elif sys.stdin.isatty():
        yield getpass.getpass(t("reader-passphrase-prompt", name=name).rstrip() + " ")


def _keys(paths: list[Path], engine: OpenPGPEngine, t: Translate) -> list[reader.SecretKey]:
    keys: list[reader.SecretKey] = []
    for path in paths:
        name = path.name
        data = _read(path, t, "reader-key-unreadable", name=name)
        try:
            key = reader.SecretKey.load(name, data, None)
        except reader.KeyFileError as exc:
            raise InputError(t(f"reader-key-{exc.problem.value}", name=name)) from exc
        if any(key.ids & other.ids for other in keys):
            continue  # the same key given twice
        for passphrase in _passphrases(name, t):
            try:
                engine.inspect_secret_key(key.armored, passphrase)
            except KeyImportError as exc:
                if exc.kind == KeyErrorKind.BAD_PASSPHRASE:
                    continue
                raise InputError(t("reader-key-not-openpgp", name=name)) from exc
            keys.append(reader.SecretKey(name, key.armored, passphrase, key.ids))
            break
        else:
            raise InputError(t("reader-key-bad-passphrase", name=name))
    return keys


def _gather(
    args: argparse.Namespace, t: Translate
) -> tuple[str, list[reader.FoundRecord], list[reader.Finding], list[tuple[str, str]], int | None]:
    found: list[reader.FoundRecord] = []
    findings: list[reader.Finding] = []
    heads: list[tuple[str, str]] = []
    chat_ids: set[int] = set()
    title = ""
    asc: list[Path] = []
    for path in args.inputs:
        if not path.exists():
            raise InputError(t("reader-input-missing", path=str(path)))
        if path.suffix.lower() in ASC_SUFFIXES:
            asc.append(path)
            continue
        try:
            contents = reader.read_export(path)
        except reader.ExportError as exc:
            raise InputError(str(exc)) from exc
        title = title or contents.title
        found += contents.found
        findings += contents.findings
        heads += contents.heads
        if contents.chat_id is not None:
            chat_ids.add(contents.chat_id)
    ctx = RecordContext(args.chat_id, args.thread_id) if args.chat_id is not None else None
    for path in asc:
        text = _read(path, t, "reader-input-missing", path=str(path)).decode("utf-8", "replace")
        if cleartext.BEGIN in text:
            heads.append((path.name, text))  # a copied panel message with the signed head
    found += reader.records_from_asc(asc, ctx)
    if args.chat_id is not None:
        chat_ids.add(args.chat_id)
    chat_id = next(iter(chat_ids)) if len(chat_ids) == 1 else None
    return title or "records", found, findings, heads, chat_id


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    lang = args.lang or ("en" if os.environ.get("LANG", "").startswith("en") else "ja")
    translator = Translator()

    def t(key: str, **kw: Any) -> str:
        return translator.get(lang, key, **kw)

    engine = _engine(args.engine)
    try:
        keys = _keys(args.key, engine, t)
        certs = _server_keys(args.server_key, args.inputs, t)
        title, found, findings, heads, chat_id = _gather(args, t)
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (KeyboardInterrupt, EOFError):
        return 2
    if not certs:
        print(t("crypto-reader-no-server-key"), file=sys.stderr)
    lock = ContextLock(engine, None, certs)
    result = reader.verify(title, found, lock, keys, findings, heads, chat_id)
    text = reader.render_markdown(result, t)
    if args.out is not None and str(args.out) == "-":
        sys.stdout.write(text)
    else:
        out = args.out or Path("transcript.md")
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            reason = exc.strerror or str(exc)
            print(t("reader-output-failed", path=str(out), reason=reason), file=sys.stderr)
            return 2
        print(t("crypto-reader-written", path=str(out)))
    return 0 if result.clean and certs else 1


if __name__ == "__main__":
    raise SystemExit(main())
