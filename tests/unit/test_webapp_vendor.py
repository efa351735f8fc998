"""The vendored OpenPGP.js is the release the Node interop tests pin, with its licence."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.webapp.config import WebAppSettings
from bot.webapp.server import STATIC_DIR

ROOT = Path(__file__).resolve().parents[2]
VENDOR = STATIC_DIR / "vendor"


def test_vendored_openpgp_matches_the_interop_lockfile() -> None:
    lock = json.loads((ROOT / "tests/interop/node/package-lock.json").read_text("utf-8"))
    pinned = lock["packages"]["node_modules/openpgp"]["version"]
    banner = (VENDOR / "openpgp.min.mjs").read_text("utf-8")[:200]
    match = re.search(r"OpenPGP\.js v(\d+\.\d+\.\d+)", banner)
    assert match is not None, banner
    assert match.group(1) == pinned
    assert pinned.startswith("6.")
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in (VENDOR / "openpgp.LICENSE").read_text("utf-8")
    assert pinned in (VENDOR / "README.md").read_text("utf-8")
    installed = ROOT / "tests/interop/node/node_modules/openpgp/dist/openpgp.min.mjs"
    if installed.exists():  # after `npm ci`: byte for byte the published file
        assert installed.read_bytes() == (VENDOR / "openpgp.min.mjs").read_bytes()


def test_public_url_must_be_https() -> None:
    assert WebAppSettings(public_url="https://x.example/").page_url("keygen") == (
        "https://x.example/app/keygen"
    )
    assert WebAppSettings().page_url("keygen") is None
    with pytest.raises(ValueError, match="https"):
        WebAppSettings(public_url="http://x.example")


def test_vendored_chart_js_is_a_4_x_release_with_its_licence() -> None:
    banner = (VENDOR / "chart.umd.min.js").read_text("utf-8")[:200]
    match = re.search(r"Chart\.js v(\d+\.\d+\.\d+)", banner)
    assert match is not None, banner
    version = match.group(1)
    assert version.startswith("4.")
    assert "MIT License" in (VENDOR / "chart.js.LICENSE.md").read_text("utf-8")
    assert f"| {version} |" in (VENDOR / "README.md").read_text("utf-8")
