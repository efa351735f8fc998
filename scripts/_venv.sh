# Sourced by scripts/run-bot, run-tests and read-log: one .venv and one install marker for all.
#
# The marker `.venv/.installed` says what was installed ("app", or "dev" for the app plus the test
# tools) and is older than the lockfiles (requirements/app.lock, dev.lock) when the dependencies
# changed. The lockfiles pin every package with its hashes; `scripts/lock` makes them again. Whichever script runs
# first installs; the others reuse it (run-tests adds only the test tools to an "app" install).
# Usage: ensure_venv app|dev
ensure_venv() {
  local want="$1" marker=.venv/.installed have=""
  if [ ! -x .venv/bin/python ]; then
    echo "libral: first run: creating .venv and installing the dependencies (a few minutes)..." >&2
    python3 -m venv .venv
  fi
  [ -f "$marker" ] && have="$(cat "$marker")"
  if [ -n "$have" ] && [ ! pyproject.toml -nt "$marker" ] \
    && [ ! requirements/app.lock -nt "$marker" ] && [ ! requirements/dev.lock -nt "$marker" ] \
    && { [ "$have" = dev ] || [ "$want" = app ]; } \
    && .venv/bin/python -c "import bot, aiogram" 2>/dev/null; then
    return 0
  fi
  local level="$want"
  if [ "$want" = dev ] || [ "$have" = dev ]; then
    level=dev
  fi
  echo "libral: installing the locked dependencies (requirements/$level.lock) into .venv..." >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "requirements/$level.lock"
  # The project itself, editable; its dependencies are all in the lockfile already.
  .venv/bin/python -m pip install --quiet --no-deps -e .
  echo "$level" >"$marker"
}
