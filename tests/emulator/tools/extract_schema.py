"""Reduce aiogram's Bot API schema to the compact JSON the emulator validates against.

aiogram's source distribution ships ``.butcher/schema/schema.json`` (every Bot API method and type
with its parameters).  Usage::

    pip download --no-deps --no-binary :all: aiogram==3.31.0 -d /tmp/aiosd
    tar xzf /tmp/aiosd/aiogram-3.31.0.tar.gz -C /tmp/aiosd
    python tests/emulator/tools/extract_schema.py \
        /tmp/aiosd/aiogram-3.31.0/.butcher/schema/schema.json tests/emulator/bot_api_schema.json

Output format::

    {"version": "10.3",
     "methods": {"sendMessage": {"chat_id": {"types": ["Integer", "String"], "required": true}}},
     "types": {"User": {"fields": {...}}, "ChatMember": {"subtypes": ["ChatMemberOwner", ...]}}}

A type expression is ``Integer``, ``String``, ``Boolean``, ``Float``, ``True``, ``InputFile``, an
object type name, ``A|B`` (one of several object types) or ``Array of <expression>``.  A field
whose description fixes its value ("must be *chat*", "always 'creator'") carries ``"const"``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

_ARRAY = "Array of "
_CONST_PATTERNS = (
    re.compile(r"must be \*?([a-z_]+)\*?"),
    re.compile(r"always ['“\"]([a-z_]+)['”\"]"),
)
_SUBTYPE_LINK = re.compile(r'<li><a href="#[a-z0-9]+">([A-Za-z0-9]+)</a></li>')


def normalize_type(expr: str) -> list[str]:
    """Split a schema type expression into its alternatives, canonically spelled."""
    alternatives: list[str] = []
    for part in expr.split(" or "):
        part = part.strip()
        prefix = ""
        while part.startswith(_ARRAY):
            prefix += _ARRAY
            part = part[len(_ARRAY) :]
        names = [n.strip() for n in re.split(r",| and ", part) if n.strip()]
        alternatives.append(prefix + "|".join(names))
    return alternatives


def _field(annotation: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "types": normalize_type(annotation["type"]),
        "required": bool(annotation["required"]),
    }
    if annotation["type"] == "String":
        for pattern in _CONST_PATTERNS:
            match = pattern.search(annotation.get("description", ""))
            if match:
                out["const"] = match.group(1)
                break
    return out


def reduce_schema(raw: dict[str, Any]) -> dict[str, Any]:
    methods: dict[str, Any] = {}
    types: dict[str, Any] = {}
    for section in raw["items"]:
        for item in section["children"]:
            name: str = item["name"]
            annotations: list[dict[str, Any]] = item.get("annotations", [])
            if item.get("category") == "methods":
                methods[name] = {a["name"]: _field(a) for a in annotations}
            elif annotations:
                types[name] = {"fields": {a["name"]: _field(a) for a in annotations}}
            else:
                subtypes = _SUBTYPE_LINK.findall(item.get("html_description", ""))
                types[name] = {"subtypes": subtypes} if subtypes else {"fields": {}}
    return {"version": raw["api"]["version"], "methods": methods, "types": types}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    raw = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    reduced = reduce_schema(raw)
    Path(argv[2]).write_text(
        json.dumps(reduced, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n",
        encoding="utf-8",
    )
    print(f"{len(reduced['methods'])} methods, {len(reduced['types'])} types -> {argv[2]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
