"""Fast JSON for the wire: orjson when installed, the standard library otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    import orjson

    def dumps(value: Any) -> bytes:
        """Serialize to compact UTF-8 JSON bytes."""
        return orjson.dumps(value)

    #: Parse JSON text or bytes: orjson's own function, no wrapper (it runs once per stream chunk).
    loads: Callable[[bytes | bytearray | memoryview | str], Any] = orjson.loads

    JSONDecodeError: type[ValueError] = orjson.JSONDecodeError

except ImportError:  # pragma: no cover - exercised only without orjson
    import json

    def dumps(value: Any) -> bytes:
        """Serialize to compact UTF-8 JSON bytes."""
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

    def loads(data: bytes | bytearray | memoryview | str) -> Any:
        """Parse JSON text or bytes."""
        if isinstance(data, memoryview):
            data = bytes(data)
        return json.loads(data)

    JSONDecodeError = json.JSONDecodeError

__all__ = ["JSONDecodeError", "dumps", "loads"]
