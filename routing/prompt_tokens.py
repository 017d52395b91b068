"""A tokenizer-free estimate of prompt size, for routing before any model is loaded.

The estimate errs high (about 4 characters or 0.75 words per token, whichever is larger), so a
prompt near the local budget is sent where it fits. Callers that hold the real tokenizer should
pass its count to `routing.policy.decide` instead.
"""
from __future__ import annotations

import math
import re

_PIECES = re.compile(r"\w+|[^\w\s]")


def estimate_tokens(text: str) -> int:
    """Approximate number of LLM tokens in `text` (0 for empty text)."""
    if not text:
        return 0
    pieces = len(_PIECES.findall(text))
    return max(math.ceil(len(text) / 4), math.ceil(pieces * 4 / 3))


__all__ = ["estimate_tokens"]
