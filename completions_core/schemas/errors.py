"""The one error the schema tools raise, and how it names a place in a schema."""

from __future__ import annotations

from collections.abc import Sequence

from completions_core.errors import InvalidRequestError

Path = tuple[str | int, ...]


def pointer(path: Sequence[str | int]) -> str:
    """Render a path as a URI-fragment JSON pointer (``#/properties/a~1b/items``).

    The same notation as ``$ref`` values, so a user can find the place in their schema.
    """
    parts = [str(part).replace("~", "~0").replace("/", "~1") for part in path]
    return "#" + "".join("/" + part for part in parts)


class SchemaError(InvalidRequestError):
    """A JSON Schema that cannot be rewritten for the target provider (a ValueError).

    ``str(error)`` starts with the JSON pointer of the offending place, e.g.
    ``"#/$defs/Node/properties/next: reference cycle through #/$defs/Node"``; ``path`` is that
    pointer, ``parts`` the same place as a tuple, ``reason`` the message without it. Being an
    InvalidRequestError, it reaches the caller as a 400 ``invalid_request_error``.
    """

    def __init__(self, parts: Sequence[str | int], reason: str) -> None:
        self.parts: Path = tuple(parts)
        self.reason = reason
        super().__init__(reason, pointer(self.parts))
