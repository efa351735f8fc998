"""Independent check with the gpg command line (GnuPG 2.2): records for GnuPG keys decrypt and
verify, and packet inspection shows SEIPDv1 with AES-256."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.crypto.port import GeneratedKey, OpenPGPEngine, SigningKey
from services.crypto.records import GENESIS_DIGEST, ContextLock, LogRecord, RecordContext
from tests.crypto_support import PASSPHRASE, GpgHome, GpgKeys

CTX = RecordContext(-1002222333444, 10)


def status_lines(output: bytes) -> list[str]:
    return [
        line
        for line in output.decode(errors="replace").splitlines()
        if line.startswith("[GNUPG:] ")
    ]


def gpg_decrypt(home: GpgHome, armored: str) -> tuple[bytes, list[str]]:
    result = home.run(
        "--status-fd", "2", "--passphrase", PASSPHRASE, "--decrypt", input=armored.encode()
    )
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
