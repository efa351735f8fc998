"""Issue 18: scripts/run-bot and scripts/run-tests share one .venv and one install marker, so
the second does not reinstall everything. Run on a copy of the scripts with a stand-in Python
that records what it is asked to do (no network, no real install)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

STUB_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$STUB_LOG"
exit 0
"""

FAKE_PYTHON3 = """#!/usr/bin/env bash
# Only `python3 -m venv .venv` is expected: make a .venv whose python is the stub.
echo "python3 $*" >> "$STUB_LOG"
mkdir -p .venv/bin
cp "$STUB_PYTHON" .venv/bin/python
chmod +x .venv/bin/python
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "libral"
    (root / "scripts").mkdir(parents=True)
    for name in ("_venv.sh", "run-bot", "run-tests", "read-log"):
        source = REPO / "scripts" / name
        if source.exists():
            shutil.copy2(source, root / "scripts" / name)
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(REPO / "requirements", root / "requirements")
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "stub-python").write_text(STUB_PYTHON)
    (tools / "python3").write_text(FAKE_PYTHON3)
    for tool in tools.iterdir():
        tool.chmod(0o755)
    return root


def run(checkout: Path, script: str, *args: str) -> list[str]:
    """Run one script; the stand-in Python's invocations, in order."""
    log = checkout.parent / "calls.log"
    log.write_text("")
    tools = checkout.parent / "tools"
    env = {
        "PATH": f"{tools}:{os.environ['PATH']}",
        "HOME": str(checkout.parent),
        "STUB_LOG": str(log),
        "STUB_PYTHON": str(tools / "stub-python"),
    }
    subprocess.run(
        [str(checkout / "scripts" / script), *args],
        cwd=checkout.parent,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return log.read_text().splitlines()


def installs(calls: list[str]) -> list[str]:
    """The installs, shortened: the lockfile's name, or "-e ." for the project itself."""
    found = []
    for call in calls:
        if call.startswith("-m pip install --quiet -r requirements/"):
            found.append(call.rsplit("/", 1)[1])
        elif call == "-m pip install --quiet --no-deps -e .":
            found.append("-e .")
        elif call != "-m pip install --quiet --upgrade pip":
            assert not call.startswith("-m pip install"), f"an unlocked install: {call}"
    return found


def test_the_bot_and_the_tests_share_one_environment(checkout: Path) -> None:
    first = run(checkout, "run-bot")
    assert "python3 -m venv .venv" in first
    assert installs(first) == ["app.lock", "-e ."]
    assert first[-1] == "-m bot"

    # The tests need their tools on top: added once, into the same .venv.
    tests = run(checkout, "run-tests", "-k", "x")
    assert "python3 -m venv .venv" not in tests
    assert installs(tests) == ["dev.lock", "-e ."]
    assert tests[-1] == "-m pytest -q -p no:cacheprovider -n 4 -k x"

    # From then on neither reinstalls anything.
    for script in ("run-bot", "run-tests", "run-bot"):
        assert installs(run(checkout, script)) == [], script
    assert (checkout / ".venv" / ".installed").read_text().strip() == "dev"


def test_the_tests_first_then_the_bot_installs_once(checkout: Path) -> None:
    assert installs(run(checkout, "run-tests")) == ["dev.lock", "-e ."]
    assert installs(run(checkout, "run-bot")) == []


def test_a_changed_pyproject_installs_again_with_what_was_there(checkout: Path) -> None:
    run(checkout, "run-tests")
    later = time.time() + 5
    os.utime(checkout / "pyproject.toml", (later, later))
    # The bot alone would need only the app, but the test tools stay installed.
    assert installs(run(checkout, "run-bot")) == ["dev.lock", "-e ."]


def test_a_new_lockfile_installs_again(checkout: Path) -> None:
    run(checkout, "run-bot")
    earlier = time.time() - 60  # the install happened before the lockfile changed
    os.utime(checkout / ".venv" / ".installed", (earlier, earlier))
    os.utime(checkout / "pyproject.toml", (earlier - 60, earlier - 60))
    now = time.time()
    os.utime(checkout / "requirements" / "app.lock", (now, now))
    assert installs(run(checkout, "run-bot")) == ["app.lock", "-e ."]
    assert installs(run(checkout, "run-bot")) == []


def test_the_reader_runs_without_activating_the_venv(checkout: Path) -> None:
    calls = run(checkout, "read-log", "export", "--key", "me.asc")
    assert calls[-1] == "-m bot.reader export --key me.asc"
