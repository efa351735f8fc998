"""The reader against the signed head, coalesced documents, rotated keys and bad input
(issue 11): cutting records off either end or losing a file is a failure; every input problem
is one line and exit status 2, never a traceback."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import reader as reader_cli
from bot.i18n import Translator
from bot.settings import SUPPORTED_LOCALES
from services.crypto import reader
from services.crypto.port import GeneratedKey, OpenPGPEngine, SigningKey
from services.crypto.records import GENESIS_DIGEST, ContextLock, RecordContext, SealedRecord
from services.logserver.chain import StoredRecord, seal_batch
from services.logserver.format import as_document
from services.logserver.types import RecordKind
from tests.crypto_support import PASSPHRASE, dearmor
from tests.unit.crypto.test_records import (
    CHAT_ID,
    CTXS,
    GROUP_EXPORT_ID,
    ExportItem,
    export_json,
    head_of,
    kinds,
    make_chain,
    read_export,
)

F = reader.FindingKind


@pytest.fixture
def chain(
    sequoia: OpenPGPEngine, user_v4: GeneratedKey, server_key: SigningKey
) -> list[SealedRecord]:
    return make_chain(ContextLock(sequoia, server_key), user_v4.info.armored, CTXS)


def items_of(chain: list[SealedRecord]) -> list[tuple[RecordContext, str, dict[str, Any]]]:
    return [(c, s.armored, {}) for c, s in zip(CTXS, chain, strict=True)]


def test_every_finding_has_a_message_in_every_language() -> None:
    translator = Translator()
    for locale in SUPPORTED_LOCALES:
        for kind in F:
            assert translator.has(locale, f"crypto-reader-finding-{kind.value}"), (locale, kind)


def test_no_signed_head_is_a_failure(
    tmp_path: Path,
    chain: list[SealedRecord],
    sequoia: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
) -> None:
    result = read_export(tmp_path, export_json(items_of(chain)), sequoia, user_v4, server_key)
    assert kinds(result) == [(F.NO_HEAD, None)]
    assert not result.clean


def test_last_record_cut_off(
    tmp_path: Path,
    chain: list[SealedRecord],
    sequoia: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
) -> None:
    head = head_of(sequoia, server_key, chain[-1])
    items = items_of(chain)[:-2]
    result = read_export(tmp_path, export_json(items, head=head), sequoia, user_v4, server_key)
    assert kinds(result) == [(F.CUT_END, 4)]
    assert result.findings[0].detail == "3-4"
    assert result.head is not None
    assert result.head.seq == 4
    # records delivered after the export's panel state are fine
    early = head_of(sequoia, server_key, chain[2])
    result = read_export(
        tmp_path, export_json(items_of(chain), head=early), sequoia, user_v4, server_key
    )
    assert kinds(result) == []


def test_first_record_cut_off(
    tmp_path: Path,
    chain: list[SealedRecord],
    sequoia: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
) -> None:
    head = head_of(sequoia, server_key, chain[-1])
    items = items_of(chain)[1:]
    result = read_export(tmp_path, export_json(items, head=head), sequoia, user_v4, server_key)
    assert kinds(result) == [(F.CUT_START, 1)]
    assert result.findings[0].detail == "0"
    without_head = read_export(tmp_path, export_json(items), sequoia, user_v4, server_key)
    assert set(kinds(without_head)) == {(F.CUT_START, 1), (F.NO_HEAD, None)}


def test_log_moved_from_another_group_starts_at_heads_first(
    tmp_path: Path,
    chain: list[SealedRecord],
    sequoia: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
) -> None:
    last = chain[-1]
    head = ContextLock(sequoia, server_key).sign_head(
        CHAT_ID, last.seq, last.digest, datetime.now(UTC), first=2
    )
    items = items_of(chain)[2:]
    result = read_export(tmp_path, export_json(items, head=head), sequoia, user_v4, server_key)
    assert kinds(result) == []
    assert result.clean


def test_missing_file_is_a_failure(
    tmp_path: Path,
    chain: list[SealedRecord],
    sequoia: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
) -> None:
    """The last three records went out as one document, and the export has no files."""
    head = head_of(sequoia, server_key, chain[-1])
    items = items_of(chain)[:2]
    doc = {
        "file": "(File not included. Change data exporting settings to download.)",
        "file_name": "records-2-4.asc",
        "text": "#chat",
        "text_entities": [],
    }
    items.append((CTXS[2], "", doc))
    result = read_export(tmp_path, export_json(items, head=head), sequoia, user_v4, server_key)
    assert kinds(result) == [(F.FILE_MISSING, None), (F.CUT_END, 4)]
    assert not result.clean


def test_coalesced_document_in_an_export(
    tmp_path: Path, sequoia: OpenPGPEngine, user_v4: GeneratedKey, server_key: SigningKey
) -> None:
    lock = ContextLock(sequoia, server_key)
    singles = make_chain(lock, user_v4.info.armored, [CTXS[0]] * 5)
    records = [
        (lock.open_record(s.armored, user_v4.secret_armored, PASSPHRASE).record, CTXS[0])
        for s in singles
    ]
    document = lock.seal_document(records[1:], user_v4.info.armored)
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "records-1-4.asc").write_text(document.armored, "utf-8")
    head = lock.sign_head(CHAT_ID, 4, document.last_digest, datetime.now(UTC))
    items = [
        (CTXS[0], singles[0].armored, {}),
        (
            CTXS[0],
            "",
            {"file": "files/records-1-4.asc", "file_name": "records-1-4.asc", "text": ""},
        ),
    ]
    result = read_export(tmp_path, export_json(items, head=head), sequoia, user_v4, server_key)
    assert kinds(result) == []
    assert result.verified_count == 5
    assert [e.found.source for e in result.entries][1:] == [
        "message 101 #1",
        "message 101 #2",
        "message 101 #3",
        "message 101 #4",
    ]
    # the document in another topic: every record in it is flagged as moved
    items[1] = (CTXS[1], "", items[1][2])
    moved = read_export(tmp_path, export_json(items, head=head), sequoia, user_v4, server_key)
    assert list(kinds(moved)) == [(F.MOVED, 1), (F.MOVED, 2), (F.MOVED, 3), (F.MOVED, 4)]


def test_head_forged_foreign_or_mismatched(
    tmp_path: Path,
    chain: list[SealedRecord],
    sequoia: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    other_server_key: SigningKey,
) -> None:
    items = items_of(chain)
    forged = head_of(sequoia, other_server_key, chain[-1])
    result = read_export(tmp_path, export_json(items, head=forged), sequoia, user_v4, server_key)
    assert kinds(result) == [(F.HEAD_FORGED, None), (F.NO_HEAD, None)]
    foreign = ContextLock(sequoia, server_key).sign_head(
        -100123, 4, chain[-1].digest, datetime.now(UTC)
    )
    result = read_export(tmp_path, export_json(items, head=foreign), sequoia, user_v4, server_key)
    assert kinds(result) == [(F.HEAD_MOVED, 4), (F.NO_HEAD, None)]
    wrong = ContextLock(sequoia, server_key).sign_head(CHAT_ID, 4, "e" * 64, datetime.now(UTC))
    result = read_export(tmp_path, export_json(items, head=wrong), sequoia, user_v4, server_key)
    assert kinds(result) == [(F.HEAD_MISMATCH, 4)]


# ---------------------------------------------------------------- the command line


def write_export(
    folder: Path,
    items: list[tuple[RecordContext, str, dict[str, Any]]],
    head: str,
    server_key: SigningKey,
) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "result.json").write_text(json.dumps(export_json(items, head=head)), "utf-8")
    (folder / "libral-server-test.asc").write_text(server_key.public_armored, "utf-8")


def test_rotated_key_read_with_two_key_options(
    tmp_path: Path,
    sequoia: OpenPGPEngine,
    user_v4: GeneratedKey,
    user_v6: GeneratedKey,
    server_key: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Records 0-2 sealed to the old (protected v4) key, 3-4 to the new (v6) key."""
    lock = ContextLock(sequoia, server_key)
    old = make_chain(lock, user_v4.info.armored, CTXS)
    opened = [lock.open_record(s.armored, user_v4.secret_armored, PASSPHRASE).record for s in old]
    new = [
        lock.seal_record(r, user_v6.info.armored, c)
        for r, c in zip(opened[3:], CTXS[3:], strict=True)
    ]
    sealed = [*old[:3], *new]
    folder = tmp_path / "export"
    write_export(
        folder,
        [(c, s.armored, {}) for c, s in zip(CTXS, sealed, strict=True)],
        head_of(sequoia, server_key, new[-1]),
        server_key,
    )
    (tmp_path / "old.asc").write_text(user_v4.secret_armored, "utf-8")
    (tmp_path / "new.asc").write_text(user_v6.secret_armored, "utf-8")
    monkeypatch.setenv(reader_cli.PASSPHRASE_VAR, PASSPHRASE)
    out = tmp_path / "t.md"
    base = [str(folder), "--out", str(out), "--lang", "en"]
    assert (
        reader_cli.main(
            [*base, "--key", str(tmp_path / "old.asc"), "--key", str(tmp_path / "new.asc")]
        )
        == 0
    )
    assert "5 of 5 records" in out.read_text("utf-8")
    assert reader_cli.main([*base, "--key", str(tmp_path / "old.asc")]) == 1
    report = out.read_text("utf-8")
    assert "3 of 5 records" in report
    assert "not encrypted to your key" in report


def test_binary_key_file(
    tmp_path: Path,
    chain: list[SealedRecord],
    sequoia: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "export"
    write_export(folder, items_of(chain), head_of(sequoia, server_key, chain[-1]), server_key)
    key = tmp_path / "secret.gpg"
    key.write_bytes(dearmor(user_v4.secret_armored))
    assert not key.read_bytes().startswith(b"-----")
    monkeypatch.setenv(reader_cli.PASSPHRASE_VAR, PASSPHRASE)
    args = [str(folder), "--key", str(key), "--out", str(tmp_path / "t.md")]
    assert reader_cli.main(args) == 0


@pytest.mark.parametrize(
    "problem",
    [
        "garbage",
        "public",
        "missing",
        "directory",
        "wrong-passphrase",
        "no-input",
        "bad-server-key",
        "bad-export",
        "unwritable-output",
    ],
)
def test_each_input_problem_is_one_line_and_status_2(
    problem: str,
    tmp_path: Path,
    chain: list[SealedRecord],
    sequoia: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "export"
    write_export(folder, items_of(chain), head_of(sequoia, server_key, chain[-1]), server_key)
    key = tmp_path / "secret.asc"
    key.write_text(user_v4.secret_armored, "utf-8")
    monkeypatch.setenv(reader_cli.PASSPHRASE_VAR, PASSPHRASE)
    inputs, out = [str(folder)], str(tmp_path / "t.md")
    expected = {
        "garbage": "not an OpenPGP key",
        "public": "this is a public key",
        "missing": "cannot read the key file",
        "directory": "cannot read the key file",
        "wrong-passphrase": "wrong passphrase",
        "no-input": "no such file or folder",
        "bad-server-key": "not a readable public key",
        "bad-export": "not a readable JSON export",
        "unwritable-output": "Cannot write the transcript",
    }[problem]
    if problem == "garbage":
        key.write_bytes(b"\x00\x01 this is not a key \xff")
    elif problem == "public":
        key.write_text(user_v4.info.armored, "utf-8")
    elif problem == "missing":
        key = tmp_path / "nope.asc"
    elif problem == "directory":
        key = tmp_path
    elif problem == "wrong-passphrase":
        monkeypatch.setenv(reader_cli.PASSPHRASE_VAR, "not it")
    elif problem == "no-input":
        inputs = [str(tmp_path / "ChatExport_missing")]
    elif problem == "bad-server-key":
        (folder / "libral-server-test.asc").write_text("not a key", "utf-8")
    elif problem == "bad-export":
        (folder / "result.json").write_text("{not json", "utf-8")
    elif problem == "unwritable-output":
        out = str(tmp_path / "no-such-folder" / "t.md")
    code = reader_cli.main([*inputs, "--key", str(key), "--out", out, "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_same_key_twice_is_used_once(
    tmp_path: Path,
    chain: list[SealedRecord],
    sequoia: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "export"
    write_export(folder, items_of(chain), head_of(sequoia, server_key, chain[-1]), server_key)
    key = tmp_path / "secret.asc"
    key.write_text(user_v4.secret_armored, "utf-8")
    monkeypatch.setenv(reader_cli.PASSPHRASE_VAR, PASSPHRASE)
    args = [str(folder), "--key", str(key), "--key", str(key), "--out", str(tmp_path / "t.md")]
    assert reader_cli.main(args) == 0


def test_loose_asc_files_with_a_copied_panel(
    tmp_path: Path,
    chain: list[SealedRecord],
    sequoia: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without an export, completeness needs the panel text (saved as a .txt file)."""
    files = []
    for seq, sealed in enumerate(chain):
        path = tmp_path / f"record-{seq}.asc"
        path.write_text(sealed.armored, "utf-8")
        files.append(str(path))
    (tmp_path / "server.asc").write_text(server_key.public_armored, "utf-8")
    (tmp_path / "key.asc").write_text(user_v4.secret_armored, "utf-8")
    monkeypatch.setenv(reader_cli.PASSPHRASE_VAR, PASSPHRASE)
    base = [
        "--key",
        str(tmp_path / "key.asc"),
        "--server-key",
        str(tmp_path / "server.asc"),
        "--out",
        str(tmp_path / "t.md"),
        "--lang",
        "en",
    ]
    assert reader_cli.main([*files, *base]) == 1  # no head: the end is unverified
    assert "No signed head found" in (tmp_path / "t.md").read_text("utf-8")
    panel = tmp_path / "panel.txt"
    panel.write_text("Libral log\n\n" + head_of(sequoia, server_key, chain[-1]), "utf-8")
    assert reader_cli.main([*files, str(panel), *base]) == 0
    assert reader_cli.main([*files[:-1], str(panel), *base]) == 1


def test_export_chat_id_matches_records() -> None:
    assert reader.export_chat_id({"id": GROUP_EXPORT_ID, "type": "private_supergroup"}) == CHAT_ID


# ---------------------------------------------------------------- what the delivery posts


def delivered_export(
    folder: Path, lock: ContextLock, recipient: str
) -> tuple[list[tuple[RecordContext, str, dict[str, Any]]], str]:
    """Records 0 (a message), 1-4 (one coalesced `.asc` document) and 5 (a message), sealed and
    formatted by the delivery's own code (`seal_batch`, `as_document`); and the signed head."""
    t0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    conv = CTXS[0]
    head_seq: int | None = None
    digest = GENESIS_DIGEST
    items: list[tuple[RecordContext, str, dict[str, Any]]] = []
    (folder / "files").mkdir(parents=True, exist_ok=True)
    for seqs in ([0], [1, 2, 3, 4], [5]):
        rows = [StoredRecord(s, s, RecordKind.CHAT, t0, "enc", None) for s in seqs]
        sealed = seal_batch(
            lock,
            rows,
            open_body=lambda seq, _enc: {"text": f"こんにちは {seq}"},
            public_key=recipient,
            chat_id=conv.chat_id,
            thread_id=conv.thread_id,
            head_seq=head_seq,
            head_digest=digest,
        )
        head_seq, digest = sealed.head_seq, sealed.head_digest
        if sealed.message.is_document:
            name, content, caption = as_document(sealed.message)
            (folder / "files" / name).write_bytes(content)
            extra = {"file": f"files/{name}", "file_name": name, "text": caption}
            items.append((conv, "", extra))
        else:
            items.append((conv, sealed.message.armored, {}))
    assert head_seq == 5
    head = lock.sign_head(CHAT_ID, head_seq, digest, t0)
    return items, head


def _flip(folder: Path) -> None:
    (path,) = (folder / "files").iterdir()
    lines = path.read_text("utf-8").splitlines()
    line = lines[len(lines) // 2]
    lines[len(lines) // 2] = line[:10] + ("A" if line[10] != "A" else "B") + line[11:]
    path.write_text("\n".join(lines) + "\n", "utf-8")


DOCUMENT_SCENARIOS: dict[str, set[tuple[reader.FindingKind, int | None]]] = {
    "clean": set(),
    "flipped-byte": {(F.DAMAGED, None), (F.MISSING, 5)},
    "dropped": {(F.MISSING, 5)},
    "reordered": {(F.REORDERED, 1)},
    "moved": {(F.MOVED, 1), (F.MOVED, 4)},
    "file-missing": {(F.FILE_MISSING, None), (F.MISSING, 5)},
    "first-missing": {(F.CUT_START, 1)},
    "last-missing": {(F.CUT_END, 5)},
    "forged": {(F.FORGED, None), (F.MISSING, 5)},
}


@pytest.mark.parametrize("scenario", list(DOCUMENT_SCENARIOS))
def test_the_reader_checks_a_document_the_delivery_posted(
    scenario: str,
    tmp_path: Path,
    any_engine: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    other_server_key: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "export"
    items, head = delivered_export(
        folder, ContextLock(any_engine, server_key), user_v4.info.armored
    )
    if scenario == "flipped-byte":
        _flip(folder)
    elif scenario == "dropped":
        del items[1]
    elif scenario == "reordered":
        items[1], items[2] = items[2], items[1]
    elif scenario == "moved":
        items[1] = (CTXS[1], "", items[1][2])
    elif scenario == "file-missing":
        for path in (folder / "files").iterdir():
            path.unlink()
    elif scenario == "first-missing":
        del items[0]
    elif scenario == "last-missing":
        del items[2]
    elif scenario == "forged":
        # The same records in a document an impostor signed and encrypted to the user's key.
        impostor = ContextLock(any_engine, other_server_key)
        delivered_export(tmp_path / "impostor", impostor, user_v4.info.armored)
        (name,) = (p.name for p in (tmp_path / "impostor" / "files").iterdir())
        (folder / "files" / name).write_bytes((tmp_path / "impostor" / "files" / name).read_bytes())
    write_export(folder, items, head, server_key)
    result = read_export(folder, export_json(items, head=head), any_engine, user_v4, server_key)
    expected = DOCUMENT_SCENARIOS[scenario]
    if not expected:
        assert kinds(result) == []
        assert result.verified_count == 6
        assert [e.found.source for e in result.entries][1:5] == [
            f"message 101 #{n}" for n in range(1, 5)
        ]
    else:
        assert expected <= set(kinds(result)), kinds(result)
        assert not result.clean
    # The command line says the same with its exit status: 0 only when everything verified.
    key = tmp_path / "key.asc"
    key.write_text(user_v4.secret_armored, "utf-8")
    monkeypatch.setenv(reader_cli.PASSPHRASE_VAR, PASSPHRASE)
    args = [str(folder), "--key", str(key), "--out", str(tmp_path / "t.md"), "--lang", "en"]
    assert reader_cli.main(args) == (0 if not expected else 1)


def test_a_file_from_an_older_version_with_several_messages_is_read_whole(
    tmp_path: Path, sequoia: OpenPGPEngine, user_v4: GeneratedKey, server_key: SigningKey
) -> None:
    """Earlier versions posted a batch as single messages one after another in one `.asc` file
    (gpg reads only the first): the reader still reads every one of them."""
    lock = ContextLock(sequoia, server_key)
    chain = make_chain(lock, user_v4.info.armored, [CTXS[0]] * 5)
    (tmp_path / "files").mkdir()
    old = "\n".join(s.armored.strip() + "\n" for s in chain[2:])
    (tmp_path / "files" / "libral-chat-000002-000004.asc").write_text(old, "utf-8")
    file = {"file": "files/libral-chat-000002-000004.asc", "file_name": "x.asc", "text": ""}
    items: list[ExportItem] = [(CTXS[0], s.armored, {}) for s in chain[:2]]
    items.append((CTXS[0], "", file))
    head = head_of(sequoia, server_key, chain[-1])
    result = read_export(tmp_path, export_json(items, head=head), sequoia, user_v4, server_key)
    assert kinds(result) == []
    assert result.verified_count == 5
    assert [e.found.source for e in result.entries][2:] == [
        "message 102.1",
        "message 102.2",
        "message 102.3",
    ]
