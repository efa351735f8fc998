"""getMe, getUpdates and the webhook methods, logOut and close."""

from __future__ import annotations

from typing import Any

from .errors import bad_request
from .registry import Call, registry
from .updates import WebhookConfig


@registry.method("getMe")
async def get_me(call: Call) -> dict[str, Any]:
    data = call.emu.bot_user.to_api()
    data.update(
        can_join_groups=True,
        can_read_all_group_messages=not call.emu.privacy_mode,
        supports_inline_queries=False,
        can_connect_to_business=False,
        has_main_web_app=False,
    )
    return data


@registry.method("getUpdates")
async def get_updates(call: Call) -> list[dict[str, Any]]:
    limit = call.opt_int("limit") or 100
    timeout = call.opt_int("timeout") or 0
    allowed = call.get_list("allowed_updates")
    return await call.emu.updates.get_updates(call.opt_int("offset"), limit, timeout, allowed)


@registry.method("setWebhook")
async def set_webhook(call: Call) -> bool:
    url = call.get_str("url")
    if not url.startswith(("https://", "http://127.", "http://localhost")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = call.opt_str("secret_token")
    if secret is not None and (
        not 1 <= len(secret) <= 256
        or not all(c.isascii() and (c.isalnum() or c in "_-") for c in secret)
    ):
        raise bad_request("secret token contains unallowed characters")
    call.emu.updates.set_webhook(
        WebhookConfig(
            url=url,
            secret_token=secret,
            max_connections=call.opt_int("max_connections") or 40,
            allowed_updates=call.get_list("allowed_updates"),
        ),
        drop_pending=call.flag("drop_pending_updates"),
    )
    return True


@registry.method("deleteWebhook")
async def delete_webhook(call: Call) -> bool:
    await call.emu.updates.delete_webhook(drop_pending=call.flag("drop_pending_updates"))
    return True


@registry.method("getWebhookInfo")
async def get_webhook_info(call: Call) -> dict[str, Any]:
    queue = call.emu.updates
    hook = queue.webhook
    info: dict[str, Any] = {
        "url": hook.url if hook else "",
        "has_custom_certificate": False,
        "pending_update_count": queue.pending_count,
    }
    if hook is not None:
        info["max_connections"] = hook.max_connections
        if hook.allowed_updates:
            info["allowed_updates"] = hook.allowed_updates
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message or ""
    return info


@registry.method("logOut")
async def log_out(call: Call) -> bool:
    return True


@registry.method("close")
async def close(call: Call) -> bool:
    return True
