#!/usr/bin/env bash
# Regenerate the hashed locks (needs the package index). Review the diff before committing.
set -euo pipefail
cd "$(dirname "$0")"
tools=$(mktemp -d)
python3 -m venv "$tools"
"$tools/bin/pip" install -q pip-tools
"$tools/bin/pip-compile" -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
  --output-file proxy.lock proxy.in
"$tools/bin/pip-compile" -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
  --output-file dev.lock dev.in
"$tools/bin/pip-compile" -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
  --output-file deploy-check.lock deploy-check.in
rm -rf "$tools"
