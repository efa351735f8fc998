"""Strict checking of method parameters against the official Bot API schema.

``bot_api_schema.json`` is produced by ``tools/extract_schema.py`` from the schema aiogram ships.
Raw request values (form strings, JSON values, uploaded files) are coerced to the declared type;
unknown, missing and wrongly typed parameters raise a 400 :class:`TelegramError`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .errors import TelegramError, bad_request

SCHEMA_PATH = Path(__file__).with_name("bot_api_schema.json")
_ARRAY = "Array of "
_INT_RE = re.compile(r"^-?\d+$")
_FLOAT_RE = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_TRUE = {"true", "True", "1"}
_FALSE = {"false", "False", "0"}

# Telegram's own words for a missing required parameter, where it has them.
_MISSING: dict[str, str] = {
    "text": "message text is empty",
    "chat_id": "chat_id is empty",
    "message_id": "message identifier is not specified",
    "callback_query_id": "query_id is empty",
    "file_id": "file_id is empty",
    "url": "url is empty",
}
_OBJECT_WORDS: dict[str, str] = {
    "reply_markup": "reply keyboard markup",
    "entities": "entities",
    "caption_entities": "entities",
}


@dataclass(frozen=True)
class UploadedFile:
    """A file that arrived in a multipart body."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class FieldSpec:
    types: tuple[str, ...]
    required: bool
    const: str | None = None


class BotApiSchema:
    """Methods and types of one Bot API version."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.version: str = raw["version"]
        self.methods: dict[str, dict[str, FieldSpec]] = {
            name: {p: _spec(s) for p, s in params.items()}
            for name, params in raw["methods"].items()
        }
        self._lower = {name.lower(): name for name in self.methods}
        self.fields: dict[str, dict[str, FieldSpec]] = {}
        self.subtypes: dict[str, list[str]] = {}
        for name, body in raw["types"].items():
            if "subtypes" in body:
                self.subtypes[name] = list(body["subtypes"])
            else:
                self.fields[name] = {f: _spec(s) for f, s in body["fields"].items()}

    def canonical_method(self, name: str) -> str | None:
        """Method names are case-insensitive in the Bot API."""
        return self._lower.get(name.lower())

    # -- request parameters ------------------------------------------------------------------

    def check_params(
        self, method: str, raw: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        """Coerce and check ``raw`` for ``method``; returns typed values (files resolved)."""
        specs = self.methods[method]
        for name in raw:
            if name not in specs:
                raise bad_request(f'unknown parameter "{name}"')
        out: dict[str, Any] = {}
        for name, spec in specs.items():
            value = raw.get(name)
            if value is None or value == "":
                if spec.required:
                    raise bad_request(_MISSING.get(name, f'parameter "{name}" is required'))
                continue
            out[name] = self._coerce_param(name, value, spec, files)
        return out

    def _coerce_param(
        self, name: str, value: Any, spec: FieldSpec, files: dict[str, UploadedFile]
    ) -> Any:
        for expr in spec.types:
            ok, coerced = self._coerce(expr, value, files, top_level=True)
            if ok:
                return coerced
        if any(_is_object(t) for t in spec.types):
            word = _OBJECT_WORDS.get(name, name)
            raise bad_request(f"can't parse {word} JSON object")
        raise bad_request(f'wrong type of parameter "{name}": expected {" or ".join(spec.types)}')

    def _coerce(
        self, expr: str, value: Any, files: dict[str, UploadedFile], *, top_level: bool
    ) -> tuple[bool, Any]:
        if expr.startswith(_ARRAY):
            if isinstance(value, str) and top_level:
                try:
                    value = json.loads(value)
                except ValueError:
                    return False, None
            if not isinstance(value, list):
                return False, None
            items = []
            for item in value:
                ok, coerced = self._coerce(expr[len(_ARRAY) :], item, files, top_level=False)
                if not ok:
                    return False, None
                items.append(coerced)
            return True, items
        if expr == "Integer":
            if isinstance(value, bool):
                return False, None
            if isinstance(value, int):
                return True, value
            if isinstance(value, str) and top_level and _INT_RE.match(value):
                return True, int(value)
            return False, None
        if expr == "Float":
            if isinstance(value, bool):
                return False, None
            if isinstance(value, int | float):
                return True, float(value)
            if isinstance(value, str) and top_level and _FLOAT_RE.match(value):
                return True, float(value)
            return False, None
        if expr == "String":
            return (True, value) if isinstance(value, str) else (False, None)
        if expr in ("Boolean", "True"):
            if isinstance(value, bool):
                ok = value or expr == "Boolean"
                return (True, value) if ok else (False, None)
            if isinstance(value, str) and top_level:
                if value in _TRUE:
                    return True, True
                if value in _FALSE and expr == "Boolean":
                    return True, False
            return False, None
        if expr == "InputFile":
            if isinstance(value, UploadedFile):
                return True, value
            if isinstance(value, str) and value.startswith("attach://"):
                attached = files.get(value[len("attach://") :])
                if attached is not None:
                    return True, attached
            return False, None
        # An object type, or several alternatives separated by "|".
        if isinstance(value, str) and top_level:
            try:
                value = json.loads(value)
            except ValueError:
                return False, None
        if not isinstance(value, dict):
            return False, None
        for name in expr.split("|"):
            if self.object_matches(name, value):
                return True, value
        return False, None

    # -- objects -------------------------------------------------------------------------------

    def object_matches(self, type_name: str, value: dict[str, Any]) -> bool:
        """True if ``value`` is a valid ``type_name`` (no unknown fields, types and consts ok)."""
        return not self.object_errors(type_name, value)

    def object_errors(self, type_name: str, value: Any, path: str = "") -> list[str]:
        """Every reason ``value`` is not a valid ``type_name`` (empty when it is)."""
        where = path or type_name
        if type_name in self.subtypes:
            for sub in self.subtypes[type_name]:
                if not self.object_errors(sub, value, path):
                    return []
            return [f"{where}: matches none of {type_name}'s kinds"]
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        fields = self.fields.get(type_name)
        if fields is None:
            return [f"{where}: unknown type {type_name}"]
        errors: list[str] = []
        for key in value:
            if key not in fields:
                errors.append(f"{where}.{key}: unknown field")
        for key, spec in fields.items():
            if key not in value or value[key] is None:
                if spec.required:
                    errors.append(f"{where}.{key}: missing")
                continue
            item = value[key]
            if spec.const is not None and item != spec.const:
                errors.append(f"{where}.{key}: must be {spec.const!r}")
                continue
            if not any(self._value_matches(t, item, f"{where}.{key}") for t in spec.types):
                errors.append(f"{where}.{key}: not {' or '.join(spec.types)}")
        return errors

    def _value_matches(self, expr: str, value: Any, path: str) -> bool:
        if expr.startswith(_ARRAY):
            return isinstance(value, list) and all(
                self._value_matches(expr[len(_ARRAY) :], item, path) for item in value
            )
        if expr == "Integer":
            return isinstance(value, int) and not isinstance(value, bool)
        if expr == "Float":
            return isinstance(value, int | float) and not isinstance(value, bool)
        if expr == "String":
            return isinstance(value, str)
        if expr == "Boolean":
            return isinstance(value, bool)
        if expr == "True":
            return value is True
        if expr == "InputFile":
            return isinstance(value, str)
        return any(not self.object_errors(name, value, path) for name in expr.split("|"))


def _is_object(expr: str) -> bool:
    while expr.startswith(_ARRAY):
        expr = expr[len(_ARRAY) :]
    return expr not in ("Integer", "Float", "String", "Boolean", "True", "InputFile")


def _spec(raw: dict[str, Any]) -> FieldSpec:
    return FieldSpec(tuple(raw["types"]), bool(raw["required"]), raw.get("const"))


@cache
def load_schema(path: Path = SCHEMA_PATH) -> BotApiSchema:
    return BotApiSchema(json.loads(path.read_text(encoding="utf-8")))


__all__ = ["BotApiSchema", "FieldSpec", "TelegramError", "UploadedFile", "load_schema"]
