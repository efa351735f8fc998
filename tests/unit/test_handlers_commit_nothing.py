"""No handler commits: the service that changes state owns its transaction (docs/architecture.md,
"Transactions"). The e2e harness checks the order at run time; this checks the source, so that
a commit creeping back into a handler is found without a test that reaches it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = ROOT / "handlers"


def _commits(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    ]


def _handler_files() -> list[tuple[str, Path]]:
    return sorted((p.relative_to(ROOT).as_posix(), p) for p in HANDLERS.rglob("*.py"))


def test_no_handler_calls_commit() -> None:
    found = [f"{relative}:{line}" for relative, path in _handler_files() for line in _commits(path)]
    assert found == [], "handlers must not commit; let the service commit:\n" + "\n".join(found)


def test_the_check_finds_a_commit(tmp_path: Path) -> None:
    sample = tmp_path / "h.py"
    sample.write_text("async def h(session):\n    x = 1\n    await session.commit()\n")
    assert _commits(sample) == [3]
