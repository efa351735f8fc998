"""The OpenPGP port's contract, run against both engines (and across them)."""

from __future__ import annotations

import pysequoia as ps
import pytest
from pysequoia.packet import PacketPile, Tag

from services.crypto.keycheck import message_format_of
from services.crypto.port import (
    DecryptError,
    DecryptErrorKind,
    GeneratedKey,
    KeyErrorKind,
    KeyImportError,
    KeyVersion,
    MessageFormat,
    OpenPGPEngine,
    SigningKey,
)
from services.crypto.sequoia_engine import SequoiaEngine
from tests.crypto_support import PASSPHRASE, GpgKeys, dearmor

PLAINTEXT = "記録 record ✓".encode() * 50


def seipd_version(armored: str) -> int:
    """The SEIPD packet version, read from pysequoia's packet parser."""
    for packet in PacketPile.from_bytes(armored.encode()):
        if packet.tag == Tag.SEIP:
            # pysequoia ships no type information: the body is bytes at run time.
            return int(packet.body[0])
    raise AssertionError("no SEIPD packet")


def test_generated_v4_key_is_curve25519_and_gets_seipdv1(
    any_engine: OpenPGPEngine,
) -> None:
    key = any_engine.generate_key("Test <t@example.org>", passphrase="pw one")
    assert key.info.version == KeyVersion.V4
    assert key.info.algorithm == "ed25519"
    assert key.info.encryption_algorithm == "cv25519"
    assert key.info.message_format == MessageFormat.SEIPD_V1
    assert len(key.info.fingerprint) == 40
    assert "PRIVATE KEY BLOCK" in key.secret_armored
    # the secret key is protected: without the passphrase it cannot decrypt
    message = any_engine.encrypt(b"hello", key.info)
    with pytest.raises(DecryptError) as err:
        any_engine.decrypt_and_verify(message, key.secret_armored, "wrong")
    assert err.value.kind == DecryptErrorKind.BAD_PASSPHRASE
    assert (
        any_engine.decrypt_and_verify(message, key.secret_armored, "pw one").plaintext == b"hello"
    )


def test_v6_keys(any_engine: OpenPGPEngine, user_v6: GeneratedKey) -> None:
    if not any_engine.supports_v6:
        with pytest.raises(KeyImportError) as err:
            any_engine.inspect_public_key(user_v6.info.armored)
        assert err.value.kind == KeyErrorKind.UNSUPPORTED
        with pytest.raises(KeyImportError):
            any_engine.generate_key("x", version=KeyVersion.V6)
        return
    info = any_engine.inspect_public_key(user_v6.info.armored)
    assert info.version == KeyVersion.V6
    assert len(info.fingerprint) == 64
    assert info.message_format == MessageFormat.SEIPD_V2


def test_inspect_gpg_made_keys(any_engine: OpenPGPEngine, gpg_keys: GpgKeys) -> None:
    info = any_engine.inspect_public_key(gpg_keys.user_public)
    assert info.fingerprint == gpg_keys.user_fpr
    assert info.user_ids == ("Gpg User <gpg@example.org>",)
    assert info.encryption_algorithm == "cv25519"
    rsa = any_engine.inspect_public_key(gpg_keys.rsa3072_public)
    assert rsa.algorithm == "rsa3072"
    assert rsa.encryption_algorithm == "rsa3072"


@pytest.mark.parametrize("recipient", ["sequoia-v4", "gpg-ed25519", "gpg-rsa3072"])
def test_sign_and_encrypt_v4_round_trip_across_engines(
    recipient: str,
    any_engine: OpenPGPEngine,
    sequoia: SequoiaEngine,
    gnupg_engine: OpenPGPEngine,
    gpg_keys: GpgKeys,
    user_v4: GeneratedKey,
    server_key: SigningKey,
) -> None:
    if recipient == "sequoia-v4":
        public, secret = user_v4.info.armored, user_v4.secret_armored
    elif recipient == "gpg-ed25519":
        public, secret = gpg_keys.user_public, gpg_keys.user_secret
    else:
        fpr = gpg_keys.home.fingerprint("rsa@example.org")
        public, secret = gpg_keys.rsa3072_public, gpg_keys.home.export_secret(fpr)
    info = any_engine.inspect_public_key(public)
    armored = any_engine.sign_and_encrypt(PLAINTEXT, info, server_key)
    assert seipd_version(armored) == 1
    assert message_format_of(armored) == MessageFormat.SEIPD_V1
    for reader in (sequoia, gnupg_engine):
        opened = reader.decrypt_and_verify(armored, secret, PASSPHRASE, [server_key.public_armored])
        assert opened.plaintext == PLAINTEXT
        assert opened.signer_fingerprint == server_key.fingerprint
        assert opened.message_format == MessageFormat.SEIPD_V1


def test_v6_recipient_gets_seipdv2_ocb(
    sequoia: SequoiaEngine, user_v6: GeneratedKey, server_key: SigningKey
) -> None:
    armored = sequoia.sign_and_encrypt(PLAINTEXT, user_v6.info, server_key)
    pkesk, seipd = list(PacketPile.from_bytes(armored.encode()))[:2]
    assert pkesk.tag == Tag.PKESK
    assert pkesk.body[0] == 6  # PKESKv6
    assert seipd.tag == Tag.SEIP
    assert seipd.body[:3] == bytes([2, 9, 2])  # v2, AES-256, OCB
    assert "-----END PGP MESSAGE-----" in armored
    opened = sequoia.decrypt_and_verify(
        armored, user_v6.secret_armored, PASSPHRASE, [server_key.public_armored]
    )
    assert opened.plaintext == PLAINTEXT
    assert opened.signer_fingerprint == server_key.fingerprint


def test_unknown_signer_is_not_verified(
    any_engine: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    other_server_key: SigningKey,
) -> None:
    armored = any_engine.sign_and_encrypt(PLAINTEXT, user_v4.info, other_server_key)
    opened = any_engine.decrypt_and_verify(
        armored, user_v4.secret_armored, PASSPHRASE, [server_key.public_armored]
    )
    assert opened.plaintext == PLAINTEXT
    assert opened.signer_fingerprint is None


def test_decrypt_errors(
    any_engine: OpenPGPEngine, user_v4: GeneratedKey, gpg_keys: GpgKeys, server_key: SigningKey
) -> None:
    armored = any_engine.sign_and_encrypt(PLAINTEXT, user_v4.info, server_key)
    with pytest.raises(DecryptError) as err:
        any_engine.decrypt_and_verify(armored, gpg_keys.user_secret, PASSPHRASE)
    assert err.value.kind == DecryptErrorKind.NO_SECRET_KEY
    with pytest.raises(DecryptError) as err:
        any_engine.decrypt_and_verify(armored, user_v4.secret_armored, "not it")
    assert err.value.kind == DecryptErrorKind.BAD_PASSPHRASE
    with pytest.raises(DecryptError) as err:
        any_engine.decrypt_and_verify(b"hello there", user_v4.secret_armored, PASSPHRASE)
    assert err.value.kind in (DecryptErrorKind.NOT_OPENPGP, DecryptErrorKind.FAILED)


def test_flipped_ciphertext_byte_is_an_integrity_error(
    any_engine: OpenPGPEngine, user_v4: GeneratedKey, server_key: SigningKey
) -> None:
    armored = any_engine.sign_and_encrypt(PLAINTEXT, user_v4.info, server_key)
    binary = bytearray(dearmor(armored.encode()))
    binary[-40] ^= 0x01  # inside the encrypted data, before the MDC
    with pytest.raises(DecryptError) as err:
        any_engine.decrypt_and_verify(bytes(binary), user_v4.secret_armored, PASSPHRASE)
    assert err.value.kind in (DecryptErrorKind.INTEGRITY, DecryptErrorKind.FAILED)


def test_detached_signatures_verify_across_engines(
    any_engine: OpenPGPEngine,
    sequoia: SequoiaEngine,
    gnupg_engine: OpenPGPEngine,
    server_key: SigningKey,
) -> None:
    signature = any_engine.sign_detached(b"payload", server_key)
    assert "BEGIN PGP SIGNATURE" in signature
    for verifier in (sequoia, gnupg_engine):
        assert verifier.verify_detached(b"payload", signature, [server_key.public_armored]) == (
            server_key.fingerprint
        )
        assert verifier.verify_detached(b"payloaD", signature, [server_key.public_armored]) is None


def test_secret_key_inspection(any_engine: OpenPGPEngine, user_v4: GeneratedKey) -> None:
    info = any_engine.inspect_secret_key(user_v4.secret_armored, PASSPHRASE)
    assert info.fingerprint == user_v4.info.fingerprint
    with pytest.raises(KeyImportError) as err:
        any_engine.inspect_secret_key(user_v4.secret_armored, "wrong")
    assert err.value.kind == KeyErrorKind.BAD_PASSPHRASE


def test_symmetric_decryption_of_a_gpg_file(any_engine: OpenPGPEngine, gpg_keys: GpgKeys) -> None:
    encrypted = gpg_keys.home.run(
        "--passphrase", "env secret", "--symmetric", "--armor", "-o", "-", input=b"A=1\n"
    ).stdout
    assert any_engine.decrypt_with_passphrase(encrypted, "env secret") == b"A=1\n"
    with pytest.raises(DecryptError) as err:
        any_engine.decrypt_with_passphrase(encrypted, "env secreT")
    assert err.value.kind == DecryptErrorKind.BAD_PASSPHRASE


def test_v4_key_advertising_seipdv2_gets_it(sequoia: SequoiaEngine, server_key: SigningKey) -> None:
    """RFC 9580: the strongest container the key lists. pysequoia's own v4 keys list SEIPDv2;
    GnuPG's list only SEIPDv1 (test_sign_and_encrypt_v4_round_trip_across_engines)."""
    tsk = ps.Tsk.generate("Modern v4", profile=ps.Profile.RFC4880)
    info = sequoia.inspect_public_key(str(tsk.extract_certificate()))
    assert info.version == KeyVersion.V4
    assert info.message_format == MessageFormat.SEIPD_V2
    armored = sequoia.sign_and_encrypt(PLAINTEXT, info, server_key)
    assert seipd_version(armored) == 2
    opened = sequoia.decrypt_and_verify(armored, str(tsk), None, [server_key.public_armored])
    assert opened.plaintext == PLAINTEXT
    assert opened.message_format == MessageFormat.SEIPD_V2


def test_no_packet_writer_or_symmetric_primitive_of_ours() -> None:
    """Issue 11: OpenPGP only through maintained libraries."""
    from pathlib import Path

    import services.crypto

    root = Path(services.crypto.__file__).parent
    text = "\n".join(p.read_text() for p in root.glob("*.py"))
    for needle in ("AESOCB3", "aes_key_wrap", "modes.CFB", "CFB(", "s2k_", "_s2k", "crc24"):
        assert needle not in text, needle
    assert not (root / "_packets.py").exists()
