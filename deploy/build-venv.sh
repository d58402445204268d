#!/bin/sh
# Build the proxy's virtual environment for the container image (deploy/Dockerfile's build stage
# runs it from the repository root). Usage:
#
#   build-venv.sh VENV
#
# Read from the environment (the Dockerfile's build arguments):
#   PROVIDERS     provider plugins to install, space-separated: providers/<name>, or plugins/<name>
#                 for the keyless embedded provider ("openai anthropic", "embedded", ...)
#   PLUGINS       non-provider plugins to install, space-separated: plugins/<name> ("otel"); may be empty
#   LOCK_FILE     the hashed lock file (default requirements/proxy.lock)
#   REQUIRE_LOCK  1 (default): stop when the lock file is missing, so only hash-checked dependencies
#                 are ever installed; 0: resolve the dependencies from the index instead, with a
#                 warning (a local experiment only, never an image you ship)
#   PYTHON        the interpreter that builds (default python); it needs pip >= 22.3
#   DRY_RUN       1: print the source directories that would be installed, then stop
#
# With the lock, every third-party file (the build backend included) is downloaded once in pip's
# hash-checking mode, so a file whose sha256 is not in the lock stops the build; everything is then
# built and installed offline from those verified files, and only the distributions the chosen
# plugins need end up in VENV. The lock may pin the dependencies of every provider: the ones not
# chosen are downloaded into the build stage and never reach the image.
set -eu

venv=${1:?usage: build-venv.sh VENV}
lock=${LOCK_FILE:-requirements/proxy.lock}
python=${PYTHON:-python}

die() {
    echo "build-venv: $*" >&2
    exit 1
}

is_dist() {
    [ -f "$1/setup.cfg" ] || [ -f "$1/pyproject.toml" ]
}

available() {
    set +f  # runs in a command substitution: the caller's noglob is untouched
    for dir in "$1"/*/; do
        if is_dist "$dir"; then basename "$dir"; fi
    done | tr '\n' ' '
}

valid_name() {
    # Names become paths: only what a plugin directory can be called, so no "../" tricks.
    case $1 in
        "" | *[!a-z0-9_]*) return 1 ;;
        *) return 0 ;;
    esac
}

valid_extras() {
    # "" or "[a,b]": extras of a plugin, e.g. otel[sdk] for the OpenTelemetry SDK and exporter.
    case $1 in
        "") return 0 ;;
        "["*"]") case $1 in *[!a-z0-9_,\[\]-]*) return 1 ;; *) return 0 ;; esac ;;
        *) return 1 ;;
    esac
}

# Names and entries hold brackets ("otel[sdk]", ".[proxy]"): no pathname expansion when a list is
# split into words.
set -f

# Each entry is a source directory, optionally followed by the extras to install it with.
dists=".[proxy]"
count=0
for name in ${PROVIDERS:-}; do
    valid_name "$name" || die "invalid provider name '$name' (lower-case letters, digits, underscores)"
    if is_dist "providers/$name"; then
        dists="$dists providers/$name"
    elif is_dist "plugins/$name"; then
        dists="$dists plugins/$name"
    else
        die "unknown provider '$name'; providers/ has: $(available providers)plugins/ has: $(available plugins)"
    fi
    count=$((count + 1))
done
# A proxy without a provider never becomes ready: refuse to build one.
[ "$count" -gt 0 ] || die "PROVIDERS is empty; providers/ has: $(available providers)plugins/ has: $(available plugins)"
for spec in ${PLUGINS:-}; do
    name=${spec%%"["*}
    extras=${spec#"$name"}
    if ! valid_name "$name" || ! valid_extras "$extras"; then
        die "invalid plugin '$spec' (a name, optionally with [extras])"
    fi
    is_dist "plugins/$name" || die "unknown plugin '$name'; available: $(available plugins)"
    dists="$dists plugins/$name$extras"
done

if [ "${DRY_RUN:-0}" = 1 ]; then
    for entry in $dists; do echo "$entry"; done
    exit 0
fi

wheelhouse=$(mktemp -d)
built=$(mktemp -d)
trap 'rm -rf "$wheelhouse" "$built"' EXIT

if [ -f "$lock" ]; then
    "$python" -m pip download --require-hashes --dest "$wheelhouse" -r "$lock"
    set -- --no-index --find-links "$wheelhouse"
elif [ "${REQUIRE_LOCK:-1}" != 0 ]; then
    die "$lock not found: an image installs only hash-checked dependencies (REQUIRE_LOCK=1, the default); run requirements/lock.sh, or set REQUIRE_LOCK=0 for an unpinned local experiment"
else
    echo "build-venv: WARNING: $lock not found: dependencies come from the index, neither pinned nor hash-checked" >&2
    set -- --find-links "$wheelhouse"
fi

# The project's own distributions are built here from the checked-out source, so there is no
# published hash to check them against; with the lock their build backend (setuptools, wheel)
# comes from the verified wheelhouse like everything else. Each goes to a directory of its own so
# that its wheel can be installed with the extras that were asked for.
requirements=""
n=0
for entry in $dists; do
    dir=${entry%%"["*}
    extras=${entry#"$dir"}
    n=$((n + 1))
    "$python" -m pip wheel --no-deps "$@" --wheel-dir "$built/$n" "$dir"
    set +f
    wheel=$(ls "$built/$n"/*.whl)
    set -f
    requirements="$requirements $wheel$extras"
done

# No pip or setuptools inside the venv (ensurepip would add an old setuptools on 3.11): the
# builder's pip installs into it from outside.
"$python" -m venv --without-pip "$venv"
# shellcheck disable=SC2086  # a list of paths without spaces (mktemp directories, wheel names)
"$python" -m pip --python "$venv/bin/python" install "$@" $requirements
"$python" -m pip --python "$venv/bin/python" check

# Smoke test: every installed plugin loads and the configuration check passes (the token exists
# only for this command).
COMPLETIONS_PROXY_TOKENS=build-smoke-test-token-not-a-secret "$venv/bin/completions-proxy" --check-config
