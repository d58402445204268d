#!/usr/bin/env bash
# One entry point for people and CI: ./dev.sh demo | test | test-all | lint | bench | tox
# Creates .venv on first use with the interpreter's own pip, upgrades that pip to the hashed pin
# in requirements/pip.lock (the pip Python 3.11 ships with, 23.x, refuses dev.lock in
# --require-hashes mode), installs every third-party dependency from the hashed lock, then the
# project's own packages without deps. One line per step; pip's output goes to .venv/install.log.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
log="$VENV/install.log"

step() { printf '%s\n' "-- $*" >&2; }
run_logged() {
  if ! "$@" >>"$log" 2>&1; then
    echo "dev.sh: '$*' failed; the full output is in $log" >&2
    tail -n 15 "$log" >&2
    exit 1
  fi
}

if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV with $("$PY" --version 2>&1)"
  "$PY" -m venv "$VENV"
fi
stamp=$VENV/.installed
inputs=$(cat setup.cfg providers/*/setup.cfg plugins/*/setup.cfg requirements/pip.lock requirements/dev.lock | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$inputs" ]; then
  : >"$log"
  pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
  current_pip=$("${pip[@]}" --version 2>/dev/null | cut -d' ' -f2 || true)
  step "pinning pip: the venv has pip ${current_pip:-none}; installing $(grep -o '^pip==[^ ]*' requirements/pip.lock) by hash (log: $log)"
  run_logged "${pip[@]}" install --require-hashes -r requirements/pip.lock
  step "installing third-party dependencies from requirements/dev.lock (hashed)"
  run_logged "${pip[@]}" install --require-hashes -r requirements/dev.lock
  local_packages=(-e .)
  for d in plugins/*/ providers/*/; do
    [ -f "$d/setup.cfg" ] && local_packages+=(-e "$d")
  done
  step "installing the project's own packages ($(( ${#local_packages[@]} / 2 )) editable, no dependencies)"
  run_logged "${pip[@]}" install --no-deps --no-build-isolation "${local_packages[@]}"
  step "checking the installed set"
  run_logged "${pip[@]}" check
  echo "$inputs" > "$stamp"
fi
cmd=${1:-test}
shift || true
case "$cmd" in
  demo) exec "$VENV/bin/completions-demo" "$@" ;;
  # The default run leaves out the tests marked slow (setup.cfg's addopts); test-all runs them too.
  test) exec "$VENV/bin/python" -m pytest "$@" ;;
  test-all) exec "$VENV/bin/python" -m pytest -m "slow or not slow" "$@" ;;
  lint) "$VENV/bin/ruff" check . && exec "$VENV/bin/mypy" ;;
  bench) exec "$VENV/bin/python" bench/run.py "$@" ;;
  tox) exec "$VENV/bin/tox" "$@" ;;
  *) echo "usage: ./dev.sh demo|test|test-all|lint|bench|tox" >&2; exit 2 ;;
esac
