"""The layers point one way: handlers → services → core (docs/architecture.md, "Layers").

Read from the source (the AST of every module), so an import inside a function or behind
`TYPE_CHECKING` counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The core: what services may use of `bot/` (the database, its models and retention registry,
# the key-value state, the job scheduler). It imports nothing above it.
CORE = ("bot.db", "bot.state", "bot.scheduler")
CORE_FILES = ("bot/db", "bot/state.py", "bot/scheduler.py")
# Above the services: the Telegram-facing packages.
UPPER = ("handlers", "middlewares", "keyboards")
# aiogram's client: services get the sender ports of services/ports.py instead (Telegram's
# types and errors, `aiogram.types` and `aiogram.exceptions`, are data and stay allowed).
CLIENT = ("aiogram.client",)
CLIENT_NAMES = {("aiogram", "Bot")}
# Packages whose imports inside functions each need a comment saying why.
APPLICATION = ("bot", "services", "handlers", "middlewares", "keyboards")


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _files(*places: str) -> list[Path]:
    found: list[Path] = []
    for place in places:
        path = ROOT / place
        found += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return found


def _imports(tree: ast.Module) -> Iterator[tuple[int, str, str | None]]:
    """(line, module, imported name or None) for every absolute import, wherever it is."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            for alias in node.names:
                yield node.lineno, node.module, alias.name


def upward(source: str, *, below: tuple[str, ...] = ()) -> list[str]:
    """The imports of a module in the services (or the core, with `below`) that point up."""
    found = []
    for line, module, name in _imports(ast.parse(source)):
        full = module if name is None else f"{module}.{name}"
        in_bot = module == "bot" or module.startswith("bot.")
        if (
            _within(module, UPPER + CLIENT + below)
            or (module, name) in CLIENT_NAMES
            or (in_bot and not _within(full, CORE))
        ):
            found.append(f"{line}: {full}")
    return found


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def silent_nested_imports(source: str) -> list[str]:
    """Imports below the module level (outside `if TYPE_CHECKING:`) with no comment above them
    (or above the run of imports they belong to)."""
    lines = source.splitlines()
    tree = ast.parse(source)
    typing_only = _type_checking_lines(tree)
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in top:
            continue
        if node.lineno in typing_only:
            continue
        i = node.lineno - 2
        while i >= 0 and (
            not lines[i].strip() or lines[i].lstrip().startswith(("import ", "from "))
        ):
            i -= 1
        if i < 0 or not lines[i].lstrip().startswith("#"):
            found.append(f"{node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


def _report(paths: list[Path], check: Callable[..., list[str]], **kwargs: object) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{problem}"
        for path in paths
        for problem in check(path.read_text(encoding="utf-8"), **kwargs)
    ]


def test_services_import_neither_the_wiring_nor_aiogram_s_bot() -> None:
    found = _report(_files("services"), upward)
    assert found == [], "services take settings sections and ports:\n" + "\n".join(found)


def test_the_core_imports_nothing_above_it() -> None:
    found = _report(_files(*CORE_FILES), upward, below=("services",))
    assert found == [], "the core must not depend on the layers above it:\n" + "\n".join(found)


def test_imports_inside_functions_say_why() -> None:
    found = _report(_files(*APPLICATION), silent_nested_imports)
    assert found == [], "import at the top, or say why it must wait:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "points_up"),
    [
        ("from aiogram import Bot\n", True),
        ("from aiogram.client.bot import Bot\n", True),
        ("import handlers.chat\n", True),
        ("from middlewares.data import view\n", True),
        ("from keyboards.admin import AdminCD\n", True),
        ("from bot.settings import Settings\n", True),
        ("from bot.i18n import Translator\n", True),
        ("from bot import settings\n", True),
        ("def f() -> None:\n    from bot.i18n import Translator\n", True),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from aiogram import Bot\n",
            True,
        ),
        ("from aiogram.types import Message\n", False),
        ("from aiogram.exceptions import TelegramAPIError\n", False),
        ("from bot.db.models import User\n", False),
        ("from bot.state import KeyValueState\n", False),
        ("from bot import state\n", False),
        ("from services.ports import MessageSender\n", False),
    ],
)
def test_the_layer_check_sees_what_points_up(source: str, points_up: bool) -> None:
    assert bool(upward(source)) is points_up


def test_the_core_may_not_import_services() -> None:
    assert upward("from services.retention.policy import Retention\n", below=("services",))
    assert not upward("from bot.db.base import Base\n", below=("services",))


@pytest.mark.parametrize(
    ("source", "silent"),
    [
        ("def f() -> None:\n    x = 1\n    import json\n", True),
        ("def f() -> None:\n    # json: start-up memory\n    import json\n", False),
        ("def f() -> None:\n    # why\n    import json\n\n    import csv\n", False),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import json\n", False),
        ("import json\n", False),
    ],
)
def test_the_reason_check_sees_a_silent_import(source: str, silent: bool) -> None:
    assert bool(silent_nested_imports(source)) is silent
