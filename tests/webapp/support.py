"""Helpers for the Mini App tests: signed initData, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def sign_init_data(
    token: str,
    user: dict[str, Any] | None,
    *,
    auth_date: datetime | None = None,
    **fields: str,
) -> str:
    """initData as a Telegram client passes it, signed the way Telegram documents."""
    values: dict[str, str] = {
        "auth_date": str(int((auth_date or datetime.now(UTC)).timestamp())),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        **fields,
    }
    if user is not None:
        values["user"] = json.dumps(user, separators=(",", ":"), ensure_ascii=False)
    check = "\n".join(f"{k}={v}" for k, v in sorted(values.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    values["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(values)


def telegram_user(
    user_id: int, language_code: str = "en", first_name: str = "Aiko"
) -> dict[str, Any]:
    return {"id": user_id, "first_name": first_name, "language_code": language_code}


def fragment(init_data: str) -> str:
    """The URL fragment Telegram opens a Mini App with."""
    return "#" + urlencode({"tgWebAppData": init_data, "tgWebAppVersion": "8.0"})


def require_chromium() -> str:
    """The browser's path; skips (or, with LIBRAL_REQUIRE_SERVICES, fails) without it."""
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if path is None:
        reason = "Mini App browser tests need Debian's chromium (apt-get install chromium)"
        if os.environ.get("LIBRAL_REQUIRE_SERVICES"):
            pytest.fail(reason + " — required because LIBRAL_REQUIRE_SERVICES is set")
        pytest.skip(reason)
    return path
