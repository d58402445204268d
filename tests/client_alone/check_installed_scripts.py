"""tox -e client: the installed console scripts of a client-only install exit 2 with one line.

Not a pytest module (the name does not start with ``test_``): it checks the real install, so it
only makes sense where the [proxy] extra is absent, and it refuses to run anywhere else.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path


def main() -> int:
    if importlib.util.find_spec("hypercorn") is not None:
        print("check_installed_scripts: the [proxy] extra is installed here; run it in tox -e client", file=sys.stderr)
        return 1
    scripts = Path(sys.executable).parent
    for prog in ("completions-proxy", "completions-demo"):
        path = shutil.which(prog, path=str(scripts))
        assert path is not None, f"{prog} is not installed next to {sys.executable}"
        result = subprocess.run([path], capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 2, (prog, result.returncode, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith(f"{prog}: the proxy is not installed (missing: "), result.stderr
        assert "pip install '.[proxy]'" in result.stderr, result.stderr
        print(f"{prog}: exit 2, {result.stderr.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
