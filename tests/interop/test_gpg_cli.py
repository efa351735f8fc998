"""Independent check with the gpg command line (GnuPG 2.2): records for GnuPG keys decrypt and
verify, and packet inspection shows SEIPDv1 with AES-256."""

from __future__ import annotations

import json
from datetime import UTC, datetime

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
from services.logserver.format import as_document
from services.logserver.types import RecordKind
from tests.crypto_support import PASSPHRASE, GpgHome, GpgKeys

CTX = RecordContext(-1002222333444, 10)


def status_lines(output: bytes) -> list[str]:
    return [
        line
        for line in output.decode(errors="replace").splitlines()
        if line.startswith("[GNUPG:] ")
    ]


def gpg_decrypt(home: GpgHome, armored: str) -> tuple[bytes, list[str]]:
    """``gpg --batch --decrypt``; a script checking gpg's exit status must see success."""
    result = home.run(
        "--status-fd",
        "2",
        "--passphrase",
        PASSPHRASE,
        "--decrypt",
        input=armored.encode(),
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-1500:]
    return result.stdout, status_lines(result.stderr)


@pytest.fixture(scope="module")
def server_in_gpg(gpg_keys: GpgKeys, server_key: SigningKey) -> SigningKey:
    gpg_keys.home.run("--import", input=server_key.public_armored.encode())
    return server_key


def test_records_for_a_gnupg_key_decrypt_and_verify_with_gpg(
    any_engine: OpenPGPEngine, gpg_keys: GpgKeys, server_in_gpg: SigningKey
) -> None:
    lock = ContextLock(any_engine, server_in_gpg)
    record = LogRecord("chat", 1, GENESIS_DIGEST, {"text": "こんにちは"}, datetime.now(UTC))
    sealed = lock.seal_record(record, gpg_keys.user_public, CTX)
    plaintext, status = gpg_decrypt(gpg_keys.home, sealed.armored)
    assert b'"text":"\xe3\x81\x93' in plaintext  # UTF-8 "こ"
    assert any(s.startswith("[GNUPG:] DECRYPTION_OKAY") for s in status)
    assert any(s.startswith("[GNUPG:] GOODMDC") for s in status)
    validsig = next(s for s in status if s.startswith("[GNUPG:] VALIDSIG"))
    assert validsig.split()[-1] == server_in_gpg.fingerprint  # primary key fingerprint
    # what gpg saw: MDC method 2 (SHA-1, i.e. SEIPDv1) and cipher 9 (AES-256)
    info = next(s for s in status if s.startswith("[GNUPG:] DECRYPTION_INFO"))
    assert info.split()[2:4] == ["2", "9"]
    listing = gpg_keys.home.run("--list-packets", input=sealed.armored.encode(), check=False)
    packets = listing.stdout.decode(errors="replace")
    assert ":pubkey enc packet: version 3, algo 18" in packets


def test_generated_v4_key_works_in_gnupg(
    sequoia: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A key the bot generates for a user imports into GnuPG and reads its records there."""
    home = GpgHome(tmp_path_factory.mktemp("user-gpg"))
    (home.path / "gpg-agent.conf").write_text("s2k-count 1048576\ndefault-cache-ttl 0\n")
    try:
        home.run("--import", input=user_v4.secret_armored.encode())
        home.run("--import", input=server_key.public_armored.encode())
        listed = home.run("--with-colons", "--list-secret-keys").stdout.decode()
        assert user_v4.info.fingerprint in listed
        lock = ContextLock(sequoia, server_key)
        record = LogRecord("billing", 7, "b" * 64, {"stars": 250})
        sealed = lock.seal_record(record, user_v4.info, CTX)
        plaintext, status = gpg_decrypt(home, sealed.armored)
        assert b'"stars":250' in plaintext
        assert any(s.startswith("[GNUPG:] GOODSIG") for s in status)
        # GnuPG sees only SEIPDv1 in the key's features, so any sender uses a format it reads
        packets = home.run("--list-packets", input=user_v4.info.armored.encode()).stdout.decode(
            errors="replace"
        )
        assert "features: 01" in packets
        wrong = home.run(
            "--status-fd",
            "2",
            "--passphrase",
            "wrong",
            "--decrypt",
            input=sealed.armored.encode(),
            check=False,
        )
        assert wrong.returncode != 0
    finally:
        home.close()


@pytest.mark.parametrize("kind", list(RecordKind))
def test_every_record_kind_and_length_exits_0(
    sequoia: OpenPGPEngine, gpg_keys: GpgKeys, server_in_gpg: SigningKey, kind: RecordKind
) -> None:
    """Armor length varies with the plaintext (CRC line, ``=`` padding): cover every residue."""
    lock = ContextLock(sequoia, server_in_gpg)
    prev = GENESIS_DIGEST
    for seq in range(6):
        record = LogRecord(kind.value, seq, prev, {"text": "x" * seq, "note": "ü" * (seq % 3)})
        sealed = lock.seal_record(record, gpg_keys.user_public, CTX)
        plaintext, status = gpg_decrypt(gpg_keys.home, sealed.armored)
        assert plaintext == encode_record(record, CTX)
        assert any(s.startswith("[GNUPG:] GOODSIG") for s in status)
        prev = sealed.digest


def test_coalesced_document_reads_with_one_gpg_command(
    any_engine: OpenPGPEngine, gpg_keys: GpgKeys, server_in_gpg: SigningKey
) -> None:
    lock = ContextLock(any_engine, server_in_gpg)
    items: list[tuple[LogRecord, RecordContext]] = []
    prev = GENESIS_DIGEST
    for seq, kind in enumerate([*RecordKind, RecordKind.CHAT, RecordKind.CHAT]):
        record = LogRecord(kind.value, seq, prev, {"text": f"record {seq}" + "-" * seq})
        items.append((record, CTX))
        prev = record_digest(encode_record(record, CTX))
    sealed = lock.seal_document(items, gpg_keys.user_public)
    plaintext, status = gpg_decrypt(gpg_keys.home, sealed.armored)
    assert any(s.startswith("[GNUPG:] GOODSIG") for s in status)
    text = plaintext.decode()
    assert text.startswith(DOCUMENT_HEADER + "\n")
    blocks = cleartext.find_blocks(text)
    assert len(blocks) == len(items)
    for block, (record, ctx) in zip(blocks, items, strict=True):
        assert encode_record(record, ctx).decode() in block  # readable as printed
        verified = gpg_keys.home.run(
            "--status-fd", "2", "--verify", input=block.encode(), check=False
        )
        assert verified.returncode == 0, verified.stderr.decode(errors="replace")
        validsig = next(s for s in status_lines(verified.stderr) if "VALIDSIG" in s)
        assert validsig.split()[-1] == server_in_gpg.fingerprint


def delivered_document(lock: ContextLock, recipient: str, count: int) -> tuple[str, bytes]:
    """What the delivery worker posts for a backed-up topic: `seal_batch` over stored rows, then
    the `.asc` file `as_document` makes of it (file name, content), exactly as it is uploaded."""
    t0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    rows = [
        StoredRecord(seq, seq, RecordKind.CHAT, t0, f"body-{seq}", None)
        for seq in range(1, count + 1)
    ]
    sealed = seal_batch(
        lock,
        rows,
        open_body=lambda seq, enc: {"n": seq, "text": "こんにちは " + "x" * seq, "enc": enc},
        public_key=recipient,
        chat_id=CTX.chat_id,
        thread_id=CTX.thread_id,
        head_seq=0,
        head_digest="e" * 64,
    )
    assert sealed.message.seqs == tuple(range(1, count + 1))
    name, content, _caption = as_document(sealed.message)
    return name, content


@pytest.mark.parametrize("count", [2, 7, 100])
def test_a_document_the_delivery_posts_decrypts_with_one_gpg_command_and_exit_0(
    any_engine: OpenPGPEngine, gpg_keys: GpgKeys, server_in_gpg: SigningKey, count: int
) -> None:
    """Issue 11: `gpg --decrypt libral-chat-….asc` reads every record of a coalesced document
    and exits 0 (several messages concatenated in one file made it stop after the first and exit
    2); each record inside verifies with `gpg --verify` on its own, also exit 0."""
    lock = ContextLock(any_engine, server_in_gpg)
    name, content = delivered_document(lock, gpg_keys.user_public, count)
    assert name == f"libral-chat-000001-{count:06d}.asc"
    plaintext, status = gpg_decrypt(gpg_keys.home, content.decode())  # asserts exit status 0
    assert any(s.startswith("[GNUPG:] GOODSIG") for s in status)
    assert any(s.startswith("[GNUPG:] DECRYPTION_OKAY") for s in status)
    validsig = next(s for s in status if s.startswith("[GNUPG:] VALIDSIG"))
    assert validsig.split()[-1] == server_in_gpg.fingerprint
    text = plaintext.decode()
    assert text.startswith(DOCUMENT_HEADER + "\n")
    blocks = cleartext.find_blocks(text)
    assert len(blocks) == count
    prev = "e" * 64
    for seq, block in enumerate(blocks, start=1):
        verified = gpg_keys.home.run(
            "--status-fd", "2", "--verify", input=block.encode(), check=False
        )
        assert verified.returncode == 0, verified.stderr.decode(errors="replace")
        good = status_lines(verified.stderr)
        assert any(s.startswith("[GNUPG:] GOODSIG") for s in good)
        assert next(s for s in good if "VALIDSIG" in s).split()[-1] == server_in_gpg.fingerprint
        # What gpg verified is the record itself: its seq, and the chain through the document.
        signed = gpg_keys.home.run("--decrypt", input=block.encode(), check=False)
        assert signed.returncode == 0, signed.stderr.decode(errors="replace")
        doc = json.loads(signed.stdout)
        assert (doc["seq"], doc["prev"], doc["ctx"]) == (
            seq,
            prev,
            {"chat_id": CTX.chat_id, "thread_id": CTX.thread_id},
        )
        prev = record_digest(signed.stdout.rstrip(b"\n"))  # gpg ends the text with a newline
    # A record altered inside the decrypted document fails gpg's check of that record.
    forged = blocks[0].replace('"n":1,', '"n":9,')
    assert forged != blocks[0]
    assert gpg_keys.home.run("--verify", input=forged.encode(), check=False).returncode != 0


def test_signed_head_verifies_with_gpg(
    any_engine: OpenPGPEngine, gpg_keys: GpgKeys, server_in_gpg: SigningKey
) -> None:
    block = ContextLock(any_engine, server_in_gpg).sign_head(
        CTX.chat_id, 12, "f" * 64, datetime.now(UTC)
    )
    verified = gpg_keys.home.run("--status-fd", "2", "--verify", input=block.encode(), check=False)
    assert verified.returncode == 0, verified.stderr.decode(errors="replace")
    assert any("VALIDSIG" in s for s in status_lines(verified.stderr))
    tampered = block.replace('"seq":12', '"seq":13').encode()
    assert gpg_keys.home.run("--verify", input=tampered, check=False).returncode != 0


def test_two_subkey_recipient_gets_both_and_each_decrypts(
    any_engine: OpenPGPEngine, server_key: SigningKey, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Encrypted to every valid encryption subkey: whichever one the user still holds (a
    laptop and a phone with different subkeys) opens the record."""
    home = GpgHome(tmp_path_factory.mktemp("two-subkeys"))
    (home.path / "gpg-agent.conf").write_text("s2k-count 1048576\n")
    try:
        fpr = home.make_key("Two <two@example.org>", "ed25519", "sign")
        home.add_subkey(fpr, "cv25519", "encr")
        home.add_subkey(fpr, "rsa3072", "encr")
        colons = home.run("--with-colons", "--list-keys", fpr).stdout.decode().splitlines()
        subkeys = [
            colons[i + 1].split(":")[9]
            for i, line in enumerate(colons)
            if line.startswith("sub:") and "e" in line.split(":")[11]
        ]
        assert len(subkeys) == 2
        lock = ContextLock(any_engine, server_key)
        record = LogRecord("chat", 0, GENESIS_DIGEST, {"text": "both"})
        sealed = lock.seal_record(record, home.export(fpr), CTX)
        # in a keyring without the secret key: gpg stops listing PKESKs once one decrypts
        empty = GpgHome(tmp_path_factory.mktemp("empty"))
        listing = empty.run("--list-packets", input=sealed.armored.encode(), check=False)
        keyids = {
            line.split("keyid ")[1].strip()
            for line in listing.stdout.decode().splitlines()
            if ":pubkey enc packet:" in line
        }
        assert keyids == {sub[-16:] for sub in subkeys}
        for sub in subkeys:
            only = GpgHome(tmp_path_factory.mktemp("one-subkey"))
            (only.path / "gpg-agent.conf").write_text("s2k-count 1048576\n")
            try:
                part = home.run(
                    "--passphrase", PASSPHRASE, "--export-secret-subkeys", f"{sub}!"
                ).stdout
                only.run("--passphrase", PASSPHRASE, "--import", input=part)
                only.run("--import", input=server_key.public_armored.encode())
                plaintext, status = gpg_decrypt(only, sealed.armored)
                assert plaintext == encode_record(record, CTX)
                assert any(s.startswith("[GNUPG:] GOODSIG") for s in status)
            finally:
                only.close()
    finally:
        home.close()
