"""Sensitivity levels for routing: `Level` is `indexing.levels.Level`, the type the index stores labels as.

Levels are ordered (public < internal < confidential < restricted), so comparisons and `max` work.
"""
from __future__ import annotations

from collections.abc import Iterable

from indexing.levels import Level


def parse(value: "str | Level") -> Level:
    """Parse a level name such as ``"confidential"`` (case-insensitive).

    Raises:
        ValueError: naming the allowed levels when `value` is not one of them.
    """
    return Level.parse(value)


def max_level(levels: Iterable["Level | str"], default: Level = Level.PUBLIC) -> Level:
    """The most sensitive of `levels` (names or members); `default` when there are none."""
    result = default
    for level in levels:
        parsed = parse(level)
        if parsed > result:
            result = parsed
    return result


__all__ = ["Level", "parse", "max_level"]
