#!/usr/bin/env bash
# One entry point for people and CI: ./dev.sh demo | test | lint
# Creates .venv on first use and installs the project, every plugin and the test tools into it.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed
inputs=$(cat setup.cfg providers/*/setup.cfg plugins/*/setup.cfg constraints.txt 2>/dev/null | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$inputs" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  args=(-e ".[proxy,test,lint]")
  for d in plugins/*/ providers/*/; do
    [ -f "$d/setup.cfg" ] && args+=(-e "$d")
  done
  if [ -f constraints.txt ]; then args+=(-c constraints.txt); fi
  .venv/bin/python -m pip install -q "${args[@]}"
  echo "$inputs" > "$stamp"
fi
cmd=${1:-test}
shift || true
case "$cmd" in
  demo) exec .venv/bin/completions-demo "$@" ;;
  test) exec .venv/bin/python -m pytest "$@" ;;
  lint) .venv/bin/ruff check . && exec .venv/bin/mypy ;;
  *) echo "usage: ./dev.sh demo|test|lint" >&2; exit 2 ;;
esac
