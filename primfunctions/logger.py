"""The ``primfunctions`` logger, where the client reports deprecations and background failures."""

from __future__ import annotations

import logging

logger = logging.getLogger("primfunctions")

__all__ = ["logger"]
