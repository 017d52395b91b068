"""Sensitivity levels: the one value type shared by `indexing` (stored labels) and `routing` (decisions).

It lives at the ground (`indexing` is the bottom layer) and imports nothing, so `routing` can compare
the labels the index stores by importing this one module and nothing else of `indexing`.
`indexing.types.Classification` and `routing.levels.Level` are this class under the names each
package uses.
"""
from __future__ import annotations

from enum import IntEnum


class Level(IntEnum):
    """Sensitivity levels, ordered: a higher value is more sensitive (public < internal < confidential < restricted)."""

    PUBLIC = 0
    INTERNAL = 1
    CONFIDENTIAL = 2
    RESTRICTED = 3

    @classmethod
    def parse(cls, value: "str | Level") -> "Level":
        """Parse a level name (case-insensitive); raise ValueError naming the allowed values."""
        if isinstance(value, Level):
            return value
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            allowed = ", ".join(level.name.lower() for level in cls)
            raise ValueError(f"unknown classification {value!r}; use one of: {allowed}") from None

    def __str__(self) -> str:  # "confidential", not "Level.CONFIDENTIAL"
        return self.name.lower()


__all__ = ["Level"]
