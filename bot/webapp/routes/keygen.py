"""The key page: a key pair made in the browser; only its public key comes here.

``GET  /app/api/keygen/status``: is the bot waiting for this user's key?
``POST /app/api/keygen/public-key`` ``{"public_key": "<armored>"}``: link it exactly as a
pasted public key is linked (handlers/onboarding/key.py ``accept_key``: setup or rotation, the
same messages in the chat).
"""

from __future__ import annotations

import json

from aiohttp import web

from bot.webapp.auth import Caller
from bot.webapp.server import WebApp, json_error, webapp_of
from handlers.onboarding.key import KEYGEN_PAGE, accept_key, looks_secret
from services import users
from services.crypto import KeyImportError


async def status(request: web.Request, caller: Caller) -> web.Response:
    webapp = webapp_of(request)
    async with webapp.deps["sessionmaker"]() as session:
        server = await webapp.deps["logserver"].expecting_key(session, caller.user_id)
    return web.json_response({"expecting": server is not None})


async def public_key(request: web.Request, caller: Caller) -> web.Response:
    webapp = webapp_of(request)
    deps = webapp.deps
    crypto, logserver, translator = deps["crypto"], deps["logserver"], deps["translator"]
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return json_error("bad-request", 400)
    armored = body.get("public_key") if isinstance(body, dict) else None
    if not isinstance(armored, str) or not armored:
        return json_error("bad-request", 400)
    raw = armored.encode()
    if len(raw) > crypto.settings.max_key_bytes:
        return json_error("too-large", 413)
    if looks_secret(raw, crypto):
        # The page never sends one; refuse without keeping or logging anything of it.
        return json_error("secret-key", 422)
    async with webapp.unit_of_work() as session:
        server = await logserver.expecting_key(session, caller.user_id)
        if server is None:
            return json_error("not-expected", 409)
        try:
            info = crypto.engine.inspect_public_key(raw)
        except KeyImportError as exc:
            return web.json_response({"error": "key-rejected", "kind": exc.kind.value}, status=422)
        user = await users.by_id(session, caller.user_id)
        locale = translator.resolve_locale(user.locale if user else None, caller.language_code)
        await accept_key(
            webapp.bot, session, logserver, translator.for_locale(locale), server, info
        )
    return web.json_response({"fingerprint": info.fingerprint})


def setup(webapp: WebApp) -> None:
    webapp.page(KEYGEN_PAGE)
    webapp.api("GET", "keygen/status", status)
    webapp.api("POST", "keygen/public-key", public_key)
