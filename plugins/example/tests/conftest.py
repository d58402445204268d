"""The example is not installed (it would register itself in every proxy of the suite): import it from its folder."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
