"""Independent check with OpenPGP.js v6 (an RFC 9580 implementation, run with node): records for
a v6 key decrypt and verify, inside PKESKv6 + SEIPDv2 with AES-256-OCB."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.crypto.port import GeneratedKey, OpenPGPEngine, SigningKey
from services.crypto.records import GENESIS_DIGEST, ContextLock, LogRecord, RecordContext
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


@pytest.mark.parametrize("fast_path", [True, False])
def test_v6_record_decrypts_and_verifies_in_openpgpjs(
    openpgpjs: Path,
    tmp_path: Path,
    sequoia: OpenPGPEngine,
    sequoia_plain: OpenPGPEngine,
    user_v6: GeneratedKey,
    server_key: SigningKey,
    fast_path: bool,
) -> None:
    lock = ContextLock(sequoia if fast_path else sequoia_plain, server_key)
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
