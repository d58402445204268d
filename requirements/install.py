"""Install a subset of the repository into the current environment from the hashed lock.

    python requirements/install.py [--lock requirements/dev.lock] [--editable] SPEC...

A SPEC is a directory of one of the project's own distributions, with extras if wanted
(``".[proxy,test]"``, ``providers/openai``, ``plugins/embedded``), or the name of a third-party
package the lock pins (``pytest``). tox.ini uses this for its install stories.

1. pip is pinned by hash (requirements/pip.lock), so an old bundled pip is never the installer.
2. The third-party distributions the chosen ones need are installed from the lock in pip's
   ``--require-hashes`` mode: only the lock's entries reachable from what the chosen setup.cfg
   files declare, following the lock's own ``# via`` annotations. If that subset misses a
   dependency, pip refuses it (hash-checking mode accepts nothing unpinned), so an incomplete
   subset fails loudly instead of reaching the index.
3. The project's own distributions are installed with ``--no-deps --no-build-isolation``
   (setuptools and wheel come from the lock), as real, non-editable installs unless
   ``--editable``. The project distributions a chosen one depends on (e.g. anthropic_vertex on
   completions-anthropic) are installed too; no other one is.
4. ``pip check`` proves the environment is consistent.

pip's output goes to ``install.log`` in the environment; a failure shows its end and says where
it is.

Only the standard library is used: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import configparser
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Always installed: the build backend of the project's own distributions.
BUILD_TOOLS = ("setuptools", "wheel")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _norm(re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0])


def _local_distributions() -> dict[str, Path]:
    """The project's own distributions: name -> directory."""
    found: dict[str, Path] = {}
    for cfg in [ROOT / "setup.cfg", *ROOT.glob("providers/*/setup.cfg"), *ROOT.glob("plugins/*/setup.cfg")]:
        parser = configparser.ConfigParser()
        parser.read(cfg)
        found[_norm(parser.get("metadata", "name"))] = cfg.parent
    return found


def _declared(directory: Path, extras: set[str]) -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(directory / "setup.cfg")
    lines = parser.get("options", "install_requires", fallback="").splitlines()
    for extra in sorted(extras):
        if not parser.has_option("options.extras_require", extra):
            raise SystemExit(f"install.py: {directory.relative_to(ROOT)} has no extra [{extra}]")
        lines += parser.get("options.extras_require", extra).splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _parse_lock(text: str) -> dict[str, tuple[str, set[str]]]:
    """name -> (the entry's lines, the names of the lock entries it is required by)."""
    entries: dict[str, tuple[str, set[str]]] = {}
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    for block in blocks:
        if not re.match(r"[A-Za-z0-9]", block):
            continue
        name = _requirement_name(block)
        via: set[str] = set()
        in_via = False
        for line in block.splitlines()[1:]:
            comment = line.strip()
            if comment.startswith("# via"):
                in_via = True
                rest = comment[len("# via") :].strip()
                if rest:
                    via.add(rest)
            elif in_via and comment.startswith("#   "):
                via.add(comment[4:].strip())
            elif in_via:
                in_via = False
        parents = {_norm(v.split()[0]) for v in via if not v.startswith("-")}
        entries[name] = (block.rstrip("\n") + "\n", parents)
    return entries


def _subset(lock: dict[str, tuple[str, set[str]]], roots: set[str]) -> list[str]:
    missing = sorted(roots - set(lock))
    if missing:
        raise SystemExit(f"install.py: {', '.join(missing)} not in the lock; add them and run requirements/lock.sh")
    chosen = set(roots)
    grew = True
    while grew:
        grew = False
        for name, (_, parents) in lock.items():
            if name not in chosen and parents & chosen:
                chosen.add(name)
                grew = True
    return sorted(chosen)


def _pip(*args: str) -> None:
    """Run pip with its output in <env>/install.log; on failure, say so and show the end of it."""
    log = Path(sys.prefix) / "install.log"
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        raise SystemExit(
            f"{tail}install.py: pip {args[0]} failed (exit {result.returncode}); the full output is in {log}"
        )


def plan(specs: list[str], lock_text: str) -> tuple[list[Path], list[str], dict[str, tuple[str, set[str]]]]:
    """(the project's directories, the lock entries to install, the parsed lock) for ``specs``."""
    local = _local_distributions()
    third_party: set[str] = set(BUILD_TOOLS)
    chosen_dirs: dict[Path, None] = {}
    pending: list[tuple[Path, set[str]]] = []
    for spec in specs:
        match = re.fullmatch(r"([^\[\]]+)(?:\[([\w,-]+)\])?", spec)
        if match is None:
            raise SystemExit(f"install.py: cannot read {spec!r}")
        target, extras = match.group(1), set(filter(None, (match.group(2) or "").split(",")))
        directory = (ROOT / target).resolve()
        if (directory / "setup.cfg").is_file():
            pending.append((directory, extras))
        else:
            third_party.add(_norm(target))
    while pending:
        directory, extras = pending.pop()
        chosen_dirs[directory] = None
        for requirement in _declared(directory, extras):
            name = _requirement_name(requirement)
            if name in local:
                if local[name] not in chosen_dirs:
                    pending.append((local[name], set()))
            else:
                third_party.add(name)
    lock = _parse_lock(lock_text)
    return list(chosen_dirs), _subset(lock, third_party), lock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--lock", default=str(ROOT / "requirements" / "dev.lock"))
    parser.add_argument("--editable", action="store_true", help="install the project's distributions editable")
    parser.add_argument("specs", nargs="+")
    args = parser.parse_args(argv)

    chosen_dirs, names, lock = plan(args.specs, Path(args.lock).read_text())
    print(f"install.py: {len(names)} of the {len(lock)} entries of {Path(args.lock).name} (hashed), then "
          + ", ".join(str(d.relative_to(ROOT)) for d in chosen_dirs)
          + f" without dependencies; pip's output: {Path(sys.prefix) / 'install.log'}", flush=True)

    (Path(sys.prefix) / "install.log").write_text("")
    _pip("install", "--require-hashes", "-r", str(ROOT / "requirements" / "pip.lock"))
    with tempfile.NamedTemporaryFile("w", suffix=".lock", delete=False) as subset:
        subset.write("".join(lock[name][0] for name in names))
    try:
        _pip("install", "--require-hashes", "-r", subset.name)
    finally:
        Path(subset.name).unlink()
    targets: list[str] = []
    for directory in chosen_dirs:
        targets += ["-e", str(directory)] if args.editable else [str(directory)]
    _pip("install", "--no-deps", "--no-build-isolation", *targets)
    _pip("check")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
