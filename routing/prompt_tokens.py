"""The project's one prompt-size counter: a tokenizer-free estimate, for routing before any model is loaded.

The estimate errs high (about 4 characters or 0.75 words per token, whichever is larger), so a
prompt near the local budget is sent where it fits. `routing.router.Router` counts every prompt with
`count_message_tokens` (the CLI, the API and the evals therefore agree on a prompt's size).
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


MESSAGE_OVERHEAD_TOKENS = 8  # chat-template tokens around each message (role markers, separators)


def count_message_tokens(messages) -> int:  # noqa: ANN001 - Sequence[Mapping[str, str]]
    """Estimated prompt tokens of chat `messages` (contents plus a per-message template overhead)."""
    return sum(estimate_tokens(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in messages)


__all__ = ["estimate_tokens", "count_message_tokens", "MESSAGE_OVERHEAD_TOKENS"]
