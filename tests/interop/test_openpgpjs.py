"""Independent check with OpenPGP.js v6 (an RFC 9580 implementation, run with node): records for
a v6 key decrypt and verify, inside PKESKv6 + SEIPDv2 with AES-256-OCB."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.crypto import cleartext
from services.crypto.port import GeneratedKey, OpenPGPEngine, SigningKey
from services.crypto.records import (
    DOCUMENT_HEADER,
    GENESIS_DIGEST,
    ContextLock,
    LogRecord,
    RecordContext,
    encode_record,
    record_digest,
)
from services.logserver.chain import StoredRecord, seal_batch
from services.logserver.format import as_document, split_armored
from services.logserver.types import RecordKind
from tests.crypto_support import PASSPHRASE

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")
NPM = shutil.which("npm")
CTX = RecordContext(-1002222333444, 11)


@pytest.fixture(scope="module")
def openpgpjs() -> Path:
    if NODE is None or NPM is None:
        pytest.skip("node/npm are not installed (CI installs them)")
    if not (NODE_DIR / "node_modules" / "openpgp").is_dir():
        subprocess.run(
            [NPM, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return NODE_DIR / "decrypt.mjs"


def node_decrypt(
    script: Path, tmp_path: Path, secret: str, server: str, message: str
) -> dict[str, Any]:
    assert NODE is not None
    (tmp_path / "secret.asc").write_text(secret)
    (tmp_path / "server.asc").write_text(server)
    result = subprocess.run(
        [NODE, str(script), str(tmp_path / "secret.asc"), str(tmp_path / "server.asc")],
        input=message.encode(),
        capture_output=True,
        env=dict(os.environ, KEY_PASSPHRASE=PASSPHRASE),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_v6_record_decrypts_and_verifies_in_openpgpjs(
    openpgpjs: Path,
    tmp_path: Path,
    sequoia: OpenPGPEngine,
    user_v6: GeneratedKey,
    server_key: SigningKey,
) -> None:
    lock = ContextLock(sequoia, server_key)
    record = LogRecord("chat", 1, GENESIS_DIGEST, {"text": "v6 ✓", "n": 1})
    sealed = lock.seal_record(record, user_v6.info.armored, CTX)
    out = node_decrypt(
        openpgpjs, tmp_path, user_v6.secret_armored, server_key.public_armored, sealed.armored
    )
    assert json.loads(out["data"])["body"] == {"text": "v6 ✓", "n": 1}
    assert json.loads(out["data"])["ctx"] == {"chat_id": CTX.chat_id, "thread_id": 11}
    assert out["pkesk"] == 6
    assert out["seipd"] == {"version": 2, "cipher": "aes256", "aead": "ocb"}
    assert out["signatures"] == [
        {
            "keyID": out["signatures"][0]["keyID"],
            "fingerprint": server_key.fingerprint,
            "valid": True,
        }
    ]


def test_v4_record_also_reads_in_openpgpjs(
    openpgpjs: Path,
    tmp_path: Path,
    any_engine: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
) -> None:
    sealed = ContextLock(any_engine, server_key).seal_record(
        LogRecord("audit", 2, "c" * 64, {"event": "rotate"}), user_v4.info.armored, CTX
    )
    out = node_decrypt(
        openpgpjs, tmp_path, user_v4.secret_armored, server_key.public_armored, sealed.armored
    )
    assert json.loads(out["data"])["body"] == {"event": "rotate"}
    assert out["pkesk"] == 3
    assert out["seipd"]["version"] == 1
    assert out["signatures"][0]["valid"] is True


def test_forged_signature_is_rejected_by_openpgpjs(
    openpgpjs: Path,
    tmp_path: Path,
    sequoia: OpenPGPEngine,
    user_v6: GeneratedKey,
    server_key: SigningKey,
    other_server_key: SigningKey,
) -> None:
    sealed = ContextLock(sequoia, other_server_key).seal_record(
        LogRecord("chat", 1, GENESIS_DIGEST, {"text": "fake"}), user_v6.info.armored, CTX
    )
    out = node_decrypt(
        openpgpjs, tmp_path, user_v6.secret_armored, server_key.public_armored, sealed.armored
    )
    assert [s["valid"] for s in out["signatures"]] == [False]


def node_verify(script_dir: Path, tmp_path: Path, server: str, block: str) -> dict[str, Any]:
    assert NODE is not None
    (tmp_path / "server.asc").write_text(server)
    result = subprocess.run(
        [NODE, str(script_dir / "verify.mjs"), str(tmp_path / "server.asc")],
        input=block.encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_v6_every_kind_and_a_coalesced_document_in_openpgpjs(
    openpgpjs: Path,
    tmp_path: Path,
    sequoia: OpenPGPEngine,
    user_v6: GeneratedKey,
    server_key: SigningKey,
) -> None:
    lock = ContextLock(sequoia, server_key)
    items: list[tuple[LogRecord, RecordContext]] = []
    prev = GENESIS_DIGEST
    for seq, kind in enumerate(RecordKind):
        record = LogRecord(kind.value, seq, prev, {"text": "ü" * seq})
        items.append((record, CTX))
        prev = record_digest(encode_record(record, CTX))
        single = lock.seal_record(record, user_v6.info.armored, CTX)
        out = node_decrypt(
            openpgpjs, tmp_path, user_v6.secret_armored, server_key.public_armored, single.armored
        )
        assert out["data"] == encode_record(record, CTX).decode()
        assert out["seipd"]["version"] == 2
        assert [s["valid"] for s in out["signatures"]] == [True]
    sealed = lock.seal_document(items, user_v6.info.armored)
    out = node_decrypt(
        openpgpjs, tmp_path, user_v6.secret_armored, server_key.public_armored, sealed.armored
    )
    assert [s["valid"] for s in out["signatures"]] == [True]
    assert out["data"].startswith(DOCUMENT_HEADER + "\n")
    blocks = cleartext.find_blocks(out["data"])
    assert len(blocks) == len(items)
    for block, (record, ctx) in zip(blocks, items, strict=True):
        verified = node_verify(openpgpjs.parent, tmp_path, server_key.public_armored, block)
        assert verified["text"] == encode_record(record, ctx).decode()
        assert verified["signatures"] == [{"fingerprint": server_key.fingerprint, "valid": True}]
    head = lock.sign_head(CTX.chat_id, 3, sealed.last_digest, items[-1][0].ts)
    verified = node_verify(openpgpjs.parent, tmp_path, server_key.public_armored, head)
    assert json.loads(verified["text"])["seq"] == 3
    assert verified["signatures"][0]["valid"] is True


def test_v6_document_the_delivery_posts_reads_in_openpgpjs_record_by_record(
    openpgpjs: Path,
    tmp_path: Path,
    sequoia: OpenPGPEngine,
    user_v6: GeneratedKey,
    server_key: SigningKey,
) -> None:
    """The `.asc` file the delivery worker uploads for a backed-up topic (`seal_batch`, then
    `as_document`) for a v6 key: one SEIPDv2 message that OpenPGP.js decrypts whole, each record
    inside verifying on its own and chaining to the one before it."""
    lock = ContextLock(sequoia, server_key)
    t0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    rows = [StoredRecord(seq, seq, RecordKind.BILLING, t0, "enc", None) for seq in range(3, 15)]
    sealed = seal_batch(
        lock,
        rows,
        open_body=lambda seq, _enc: {"stars": seq, "note": "ありがとう"},
        public_key=user_v6.info.armored,
        chat_id=CTX.chat_id,
        thread_id=CTX.thread_id,
        head_seq=2,
        head_digest="d" * 64,
    )
    _name, content, _caption = as_document(sealed.message)
    (message,) = split_armored(content.decode())
    out = node_decrypt(
        openpgpjs, tmp_path, user_v6.secret_armored, server_key.public_armored, message
    )
    assert out["pkesk"] == 6
    assert out["seipd"] == {"version": 2, "cipher": "aes256", "aead": "ocb"}
    assert [s["valid"] for s in out["signatures"]] == [True]
    assert out["data"].startswith(DOCUMENT_HEADER + "\n")
    blocks = cleartext.find_blocks(out["data"])
    assert len(blocks) == len(rows)
    prev = "d" * 64
    for seq, block in enumerate(blocks, start=3):
        verified = node_verify(openpgpjs.parent, tmp_path, server_key.public_armored, block)
        assert verified["signatures"] == [{"fingerprint": server_key.fingerprint, "valid": True}]
        doc = json.loads(verified["text"])
        assert (doc["seq"], doc["prev"], doc["body"]) == (
            seq,
            prev,
            {"stars": seq, "note": "ありがとう"},
        )
        prev = record_digest(verified["text"].encode())
    assert prev == sealed.head_digest
    forged = blocks[1].replace('"stars":4', '"stars":5')
    verified = node_verify(openpgpjs.parent, tmp_path, server_key.public_armored, forged)
    assert [s["valid"] for s in verified["signatures"]] == [False]
