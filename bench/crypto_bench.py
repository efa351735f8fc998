"""Benchmark: sealing Context-Lock records (sign + encrypt) and field encryption, per core.

    python -m bench.crypto_bench [--seconds 0.5] [--rounds 5] [--write-docs]

Every figure is operations per CPU-second of this process (and of its gpg children), so a
busy machine lowers it less than wall-clock rates would. Baselines are measured in the same run
on the same payload: raw AES-256-GCM, and the public-key floor of a record (one Ed25519
signature + one X25519 agreement + AES-256-GCM, with `cryptography`/OpenSSL). Ratios to the
baselines make runs on different machines comparable. ``--write-docs`` replaces the section
"## OpenPGP and field encryption (issue 3)" in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.crypto.fields import FieldCipher
from services.crypto.gnupg_engine import GnupgEngine
from services.crypto.port import KeyVersion, OpenPGPEngine, SigningKey
from services.crypto.records import (
    GENESIS_DIGEST,
    ContextLock,
    LogRecord,
    RecordContext,
    SealedRecord,
)
from services.crypto.sequoia_engine import SequoiaEngine

SECTION = "## OpenPGP and field encryption (issues 3, 11)"
DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
PAYLOAD = 2048
TELEGRAM_SENDS = 30
DOC_RECORDS = 100
DOC_PREFIX = f"seal, sequoia, document of {DOC_RECORDS} records (per record), "


@dataclass
class Result:
    name: str
    per_second: float


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (gpg): other load on the machine
    does not count, so the figure is per core even on a busy host."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def rate(fn: Callable[[], object], seconds: float, min_runs: int = 20) -> float:
    """Operations per CPU-second, over at least ``seconds`` of CPU time and ``min_runs``."""
    for _ in range(3):
        fn()  # warm caches
    runs = 0
    start = cpu_seconds()
    while runs < min_runs or cpu_seconds() - start < seconds:
        fn()
        runs += 1
    return runs / max(cpu_seconds() - start, 1e-9)


def record_body() -> dict[str, str]:
    # a 2 KB record: the JSON envelope plus a body that brings the plaintext to ~2048 bytes
    return {"role": "assistant", "text": "あ" * 10 + "x" * (PAYLOAD - 330)}


def best_rates(
    ops: list[tuple[str, Callable[[], object]]], rounds: int, seconds: float
) -> dict[str, float]:
    """Best rate of each operation over ``rounds`` interleaved rounds: load from other processes
    comes and goes, and interleaving exposes every operation (and the baselines) to it alike."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, fn in ops:
            slow = name.startswith(("seal, gnupg", DOC_PREFIX))
            scale = DOC_RECORDS if name.startswith(DOC_PREFIX) else 1
            best[name] = max(best.get(name, 0.0), scale * rate(fn, seconds, 3 if slow else 20))
    return best


BASE_AES = "baseline: raw AES-256-GCM, 2 KB"
BASE_FLOOR = "baseline: public-key floor (Ed25519 sign + X25519 + AES-GCM)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=0.5, help="CPU seconds per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()

    payload = os.urandom(PAYLOAD)
    ops: list[tuple[str, Callable[[], object]]] = []

    # ---- baselines (same run, same payload)
    aes = AESGCM(os.urandom(32))
    nonce = os.urandom(12)
    signer = Ed25519PrivateKey.generate()
    peer = X25519PrivateKey.generate().public_key()

    def floor_op() -> None:
        signer.sign(payload)
        X25519PrivateKey.generate().exchange(peer)
        aes.encrypt(nonce, payload, None)

    ops.append((BASE_AES, lambda: aes.encrypt(nonce, payload, None)))
    ops.append((BASE_FLOOR, floor_op))

    # ---- OpenPGP record sealing
    sequoia = SequoiaEngine()
    # as the bot makes its own key by default (pysequoia, protected by field encryption at rest)
    server = sequoia.generate_key("Libral bench server")
    server_key = SigningKey(
        server.info.fingerprint, server.info.armored, server.secret_armored, None
    )
    # a GnuPG-made v4 key (advertises SEIPDv1 only) and an RFC 9580 v6 key
    v4 = sequoia.generate_key("v4 user", version=KeyVersion.V4, passphrase="bench")
    v6 = sequoia.generate_key("v6 user", version=KeyVersion.V6)
    ctx = RecordContext(-1002222333444, 10)
    body = record_body()

    def sealer(engine: OpenPGPEngine, recipient_armored: str) -> Callable[[], SealedRecord]:
        lock = ContextLock(engine, server_key)
        info = engine.inspect_public_key(recipient_armored)
        counter = iter(range(1, 10**9))

        def seal() -> SealedRecord:
            record = LogRecord("chat", next(counter), GENESIS_DIGEST, body, datetime.now(UTC))
            return lock.seal_record(record, info, ctx)

        return seal

    def document_sealer(recipient_armored: str) -> Callable[[], object]:
        """A coalesced document of DOC_RECORDS records; the rate is scaled to records."""
        lock = ContextLock(sequoia, server_key)
        info = sequoia.inspect_public_key(recipient_armored)
        now = datetime.now(UTC)
        batch = [
            (LogRecord("chat", seq, GENESIS_DIGEST, body, now), ctx) for seq in range(DOC_RECORDS)
        ]
        return lambda: lock.seal_document(batch, info)

    armored_len = len(sealer(sequoia, v4.info.armored)().armored)
    for key, fmt in ((v4, "v4 recipient (SEIPDv1)"), (v6, "v6 recipient (SEIPDv2/OCB)")):
        ops.append((f"seal, sequoia, {fmt}", sealer(sequoia, key.info.armored)))
    for key, fmt in ((v4, "v4 recipient"), (v6, "v6 recipient")):
        ops.append((f"{DOC_PREFIX}{fmt}", document_sealer(key.info.armored)))
    home = tempfile.TemporaryDirectory()
    gnupg = GnupgEngine(home.name)
    ops.append(("seal, gnupg, v4 recipient (SEIPDv1)", sealer(gnupg, v4.info.armored)))

    opener = ContextLock(sequoia, None, [server_key.public_armored])
    sealed_v6 = sealer(sequoia, v6.info.armored)()
    ops.append(
        (
            "open + verify, sequoia, v6 (reader)",
            lambda: opener.open_record(sealed_v6.armored, v6.secret_armored, None),
        )
    )

    # ---- field encryption
    cipher = FieldCipher([os.urandom(32)])
    token = cipher.encrypt("ai-context", payload, row_id=42)
    ops.append(("field encrypt 2 KB", lambda: cipher.encrypt("ai-context", payload, row_id=42)))
    ops.append(("field decrypt 2 KB", lambda: cipher.decrypt("ai-context", token, row_id=42)))
    ops.append(("lookup hash (HMAC-SHA256)", lambda: cipher.lookup_hash("chat-id", -1002222333444)))

    try:
        best = best_rates(ops, args.rounds, args.seconds)
    finally:
        gnupg.close()
        home.cleanup()
    results = [Result(name, best[name]) for name, _ in ops[2:]]
    lines = render(results, best[BASE_AES], best[BASE_FLOOR], armored_len, args.rounds)
    print("\n".join(lines))
    if args.write_docs:
        write_docs(lines)


def render(
    results: list[Result], base_aes: float, base_floor: float, armored_len: int, rounds: int
) -> list[str]:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cpu = platform.processor() or platform.machine()
    lines = [
        SECTION,
        "",
        f"Measured {now} with `python -m bench.crypto_bench`, per CPU-second of one core "
        f"({os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}). Records are "
        f"~{PAYLOAD} bytes of JSON (armored: {armored_len} bytes), signed with the server's v4 "
        f"Ed25519 key. Best of {rounds} interleaved rounds; baselines are measured in the same "
        "rounds on the same payload.",
        "",
        "| operation | per CPU-second (one core) | × raw AES-GCM | × public-key floor |",
        "| --- | ---: | ---: | ---: |",
        f"| {BASE_AES} | {base_aes:,.0f} | 1 | |",
        f"| {BASE_FLOOR} | {base_floor:,.0f} | {base_floor / base_aes:.3f} | 1 |",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.per_second:,.0f} | {r.per_second / base_aes:.3f} | "
            f"{r.per_second / base_floor:.2f} |"
        )
    default = next(r for r in results if r.name.startswith("seal, sequoia, v4"))
    v6 = next(r for r in results if r.name.startswith("seal, sequoia, v6"))
    doc = min(r.per_second for r in results if r.name.startswith(DOC_PREFIX))
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover
        load = 0.0
    lines += [
        "",
        f"Need: Telegram takes about {TELEGRAM_SENDS} sends a second in all, so at most "
        f"{TELEGRAM_SENDS} single records, or {TELEGRAM_SENDS * DOC_RECORDS:,} records in full "
        f"documents, a second for the whole bot. This run seals {default.per_second:,.0f} (v4) "
        f"and {v6.per_second:,.0f} (v6) single records and {doc:,.0f} document records per "
        f"CPU-second: {min(default.per_second, v6.per_second) / TELEGRAM_SENDS:,.0f}× and "
        f"{doc / (TELEGRAM_SENDS * DOC_RECORDS):,.1f}× the need on one core (load average "
        f"{load:.1f} on {cores} CPUs while measuring). A record needs three public-key "
        "operations (one signature, one ephemeral key, one agreement), so the public-key floor "
        "bounds what any implementation reaches on the same core; compare the ratios when the "
        "machine is busy. Every message is made by pysequoia (no packet code of ours). A "
        "document record costs one cleartext signature; the document adds one signature and one "
        "encryption for all of them. The GnuPG engine pays a `gpg` process per record.",
        "",
    ]
    return lines


def write_docs(lines: list[str]) -> None:
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n\n"
    start = text.find(SECTION)
    block = "\n".join(lines).rstrip() + "\n"
    if start == -1:
        text = text.rstrip() + "\n\n" + block
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + block + ("\n" + text[end + 1 :] if end != -1 else "")
    DOC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
