#!/usr/bin/env bash
# One entry point for people and CI: ./dev.sh demo | test | lint | bench
# Creates .venv on first use, installs every third-party dependency from the hashed lock
# (requirements/dev.lock, --require-hashes), then the project's own packages without deps.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed
inputs=$(cat setup.cfg providers/*/setup.cfg plugins/*/setup.cfg requirements/dev.lock | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$inputs" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/dev.lock
  local_packages=(-e .)
  for d in plugins/*/ providers/*/; do
    [ -f "$d/setup.cfg" ] && local_packages+=(-e "$d")
  done
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation "${local_packages[@]}"
  .venv/bin/python -m pip check
  echo "$inputs" > "$stamp"
fi
cmd=${1:-test}
shift || true
case "$cmd" in
  demo) exec .venv/bin/completions-demo "$@" ;;
  test) exec .venv/bin/python -m pytest "$@" ;;
  lint) .venv/bin/ruff check . && exec .venv/bin/mypy ;;
  bench) exec .venv/bin/python bench/run.py "$@" ;;
  *) echo "usage: ./dev.sh demo|test|lint|bench" >&2; exit 2 ;;
esac
