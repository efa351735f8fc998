"""Keys and engines shared by the crypto unit and interop tests (imported by their conftests).

Key generation is slow-ish (S2K, and GnuPG spawns an agent), so keys are made once per session.
GnuPG-made keys come from the real ``gpg`` binary in a throw-away GNUPGHOME.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pysequoia.packet import PacketPile

from services.crypto.gnupg_engine import GnupgEngine
from services.crypto.port import GeneratedKey, KeyVersion, OpenPGPEngine, SigningKey
from services.crypto.sequoia_engine import SequoiaEngine

PASSPHRASE = "correct horse battery staple"


def dearmor(armored: str | bytes) -> bytes:
    """Binary form of armored OpenPGP data, through pysequoia's parser."""
    raw = armored.encode() if isinstance(armored, str) else armored
    return b"".join(bytes(p) for p in PacketPile.from_bytes(raw))


SERVER_PASSPHRASE = "server passphrase"
GPG = shutil.which("gpg")
needs_gpg = pytest.mark.skipif(GPG is None, reason="gpg is not installed")


@dataclass(frozen=True)
class GpgHome:
    """A temporary GNUPGHOME driven through the real gpg command line."""

    path: Path

    def run(
        self, *args: str, input: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        assert GPG is not None
        env = dict(os.environ, GNUPGHOME=str(self.path))
        return subprocess.run(
            [GPG, "--batch", "--no-tty", "--pinentry-mode", "loopback", *args],
            input=input,
            capture_output=True,
            env=env,
            check=check,
            timeout=120,
        )

    def make_key(self, uid: str, algo: str, usage: str, passphrase: str = PASSPHRASE) -> str:
        self.run("--passphrase", passphrase, "--quick-gen-key", uid, algo, usage, "never")
        return self.fingerprint(uid)

    def add_subkey(self, fpr: str, algo: str, usage: str, passphrase: str = PASSPHRASE) -> None:
        self.run("--passphrase", passphrase, "--quick-add-key", fpr, algo, usage, "never")

    def fingerprint(self, uid: str) -> str:
        out = self.run("--with-colons", "--list-keys", uid).stdout.decode()
        return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))

    def export(self, fpr: str) -> str:
        return self.run("--armor", "--export", fpr).stdout.decode()

    def export_secret(self, fpr: str, passphrase: str = PASSPHRASE) -> str:
        return self.run(
            "--passphrase", passphrase, "--armor", "--export-secret-keys", fpr
        ).stdout.decode()

    def close(self) -> None:
        gpgconf = shutil.which("gpgconf")
        if gpgconf:
            subprocess.run(
                [gpgconf, "--homedir", str(self.path), "--kill", "gpg-agent"],
                capture_output=True,
                check=False,
            )


@dataclass(frozen=True)
class GpgKeys:
    home: GpgHome
    user_fpr: str
    user_public: str
    user_secret: str
    rsa3072_public: str
    rsa1024_public: str
    sign_only_public: str


@pytest.fixture(scope="session")
def gpg_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GpgKeys]:
    """Keys made by GnuPG 2.2 itself (default algorithms: Ed25519 + Curve25519 ECDH)."""
    if GPG is None:
        pytest.skip("gpg is not installed")
    home = GpgHome(tmp_path_factory.mktemp("gpg-keys"))
    os.chmod(home.path, 0o700)
    (home.path / "gpg-agent.conf").write_text("s2k-count 1048576\n")  # fast on small VMs
    user = home.make_key("Gpg User <gpg@example.org>", "ed25519", "sign")
    home.add_subkey(user, "cv25519", "encr")
    rsa = home.make_key("Rsa User <rsa@example.org>", "rsa3072", "sign")
    home.add_subkey(rsa, "rsa3072", "encr")
    weak = home.make_key("Weak User <weak@example.org>", "rsa1024", "default")
    sign_only = home.make_key("Sign Only <sign@example.org>", "ed25519", "sign")
    keys = GpgKeys(
        home=home,
        user_fpr=user,
        user_public=home.export(user),
        user_secret=home.export_secret(user),
        rsa3072_public=home.export(rsa),
        rsa1024_public=home.export(weak),
        sign_only_public=home.export(sign_only),
    )
    yield keys
    home.close()


@pytest.fixture(scope="session")
def sequoia() -> SequoiaEngine:
    return SequoiaEngine()


@pytest.fixture(scope="session")
def gnupg_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GnupgEngine]:
    if GPG is None:
        pytest.skip("gpg is not installed")
    engine = GnupgEngine(tmp_path_factory.mktemp("gnupg-engine"))
    yield engine
    engine.close()


@pytest.fixture(scope="session", params=["sequoia", "gnupg"])
def any_engine(request: pytest.FixtureRequest, sequoia: SequoiaEngine) -> OpenPGPEngine:
    if request.param == "sequoia":
        return sequoia
    engine: GnupgEngine = request.getfixturevalue("gnupg_engine")
    return engine


@pytest.fixture(scope="session")
def server_key(sequoia: SequoiaEngine) -> SigningKey:
    """Made as the bot makes its key by default: by pysequoia, kept encrypted at rest only."""
    generated = sequoia.generate_key("Libral test server")
    return SigningKey(
        fingerprint=generated.info.fingerprint,
        public_armored=generated.info.armored,
        secret_armored=generated.secret_armored,
        passphrase=None,
    )


@pytest.fixture(scope="session")
def other_server_key(sequoia: SequoiaEngine) -> SigningKey:
    """A passphrase-protected key (made through GnuPG, as with an operator's passphrase)."""
    generated = sequoia.generate_key("Impostor", passphrase=SERVER_PASSPHRASE)
    return SigningKey(
        generated.info.fingerprint,
        generated.info.armored,
        generated.secret_armored,
        SERVER_PASSPHRASE,
    )


@pytest.fixture(scope="session")
def user_v4(sequoia: SequoiaEngine) -> GeneratedKey:
    return sequoia.generate_key(
        "Aiko <aiko@example.org>", version=KeyVersion.V4, passphrase=PASSPHRASE
    )


@pytest.fixture(scope="session")
def user_v6(sequoia: SequoiaEngine) -> GeneratedKey:
    """Unprotected: pysequoia cannot put a passphrase on a key (the engines accept any
    passphrase for such a key, so tests pass PASSPHRASE all the same)."""
    return sequoia.generate_key("Ren <ren@example.org>", version=KeyVersion.V6)
