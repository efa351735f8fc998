"""The bot's profile: commands, descriptions, name, menu button, default admin rights."""

from __future__ import annotations

import re
from typing import Any

from .errors import bad_request
from .registry import Call, registry
from .state import scope_key

_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_LANGUAGE_RE = re.compile(r"^[a-z]{2}$")


def _language(call: Call) -> str:
    code = call.opt_str("language_code") or ""
    if code and not _LANGUAGE_RE.match(code):
        raise bad_request("LANG_CODE_INVALID")
    return code


def _scope(call: Call) -> dict[str, Any] | None:
    scope = call.get_obj("scope")
    if scope and "chat_id" in scope:
        call.emu.require_chat(scope["chat_id"])
    return scope


@registry.method("setMyCommands")
async def set_my_commands(call: Call) -> bool:
    commands = call.get_list("commands") or []
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    for command in commands:
        if not _COMMAND_RE.match(command["command"]):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(command["description"]) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    key = (scope_key(_scope(call)), _language(call))
    profile = call.emu.state.bot
    if commands:
        profile.commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
    else:
        profile.commands.pop(key, None)
    return True


@registry.method("getMyCommands")
async def get_my_commands(call: Call) -> list[dict[str, str]]:
    return call.emu.state.bot.commands_for(_scope(call), _language(call))


@registry.method("deleteMyCommands")
async def delete_my_commands(call: Call) -> bool:
    call.emu.state.bot.commands.pop((scope_key(_scope(call)), _language(call)), None)
    return True


def _set_text(call: Call, param: str, store: dict[str, str], limit: int) -> bool:
    value = call.opt_str(param) or ""
    if len(value) > limit:
        raise bad_request(f"{param} is too long")
    language = _language(call)
    if value:
        store[language] = value
    else:
        store.pop(language, None)
    return True


@registry.method("setMyDescription")
async def set_my_description(call: Call) -> bool:
    return _set_text(call, "description", call.emu.state.bot.descriptions, 512)


@registry.method("getMyDescription")
async def get_my_description(call: Call) -> dict[str, str]:
    texts = call.emu.state.bot.descriptions
    return {"description": texts.get(_language(call), "")}


@registry.method("setMyShortDescription")
async def set_my_short_description(call: Call) -> bool:
    return _set_text(call, "short_description", call.emu.state.bot.short_descriptions, 120)


@registry.method("getMyShortDescription")
async def get_my_short_description(call: Call) -> dict[str, str]:
    texts = call.emu.state.bot.short_descriptions
    return {"short_description": texts.get(_language(call), "")}


@registry.method("setMyName")
async def set_my_name(call: Call) -> bool:
    return _set_text(call, "name", call.emu.state.bot.names, 64)


@registry.method("getMyName")
async def get_my_name(call: Call) -> dict[str, str]:
    names = call.emu.state.bot.names
    language = _language(call)
    return {"name": names.get(language) or names.get("") or call.emu.bot_user.first_name}


@registry.method("setChatMenuButton")
async def set_chat_menu_button(call: Call) -> bool:
    button = call.get_obj("menu_button") or {"type": "default"}
    if call.has("chat_id"):
        chat = call.emu.require_chat(call.get_int("chat_id"))
        if chat.type != "private":
            raise bad_request("chat_id must be a private chat")
        chat.menu_button = button
    else:
        call.emu.state.bot.default_menu_button = button
    return True


@registry.method("getChatMenuButton")
async def get_chat_menu_button(call: Call) -> dict[str, Any]:
    if call.has("chat_id"):
        chat = call.emu.require_chat(call.get_int("chat_id"))
        if chat.menu_button is not None:
            return chat.menu_button
    return call.emu.state.bot.default_menu_button or {"type": "commands"}


@registry.method("setMyDefaultAdministratorRights")
async def set_my_default_administrator_rights(call: Call) -> bool:
    rights = call.get_obj("rights") or {}
    call.emu.state.bot.default_admin_rights[call.flag("for_channels")] = dict(rights)
    return True


@registry.method("getMyDefaultAdministratorRights")
async def get_my_default_administrator_rights(call: Call) -> dict[str, bool]:
    from .state import admin_rights

    stored = call.emu.state.bot.default_admin_rights.get(call.flag("for_channels"), {})
    return admin_rights(**stored)
