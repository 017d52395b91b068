"""Per-key rate limits of one API process: requests per minute (sliding window) and concurrent generations.

Limits come from the user's record (`UserRecord.rate_limit_rpm`, `rate_limit_concurrent`), else from the
settings' defaults; 0 means unlimited. Exceeding one answers 429 with ``Retry-After`` and the OpenAI
error body (`rag.errors.RateLimited`). State is in memory: with several worker processes each enforces
its own share.
"""
from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from rag.errors import RateLimited

WINDOW_S = 60.0


class RateLimiter:
    """Sliding-window request counts and generation slots, per user name."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._requests: dict[str, deque[float]] = defaultdict(deque)
        self._active: dict[str, int] = defaultdict(int)

    def hit(self, user: str, rpm: int) -> None:
        """Count one request of `user`.

        Raises:
            RateLimited: `user` already made `rpm` requests in the last minute.
        """
        if rpm <= 0:
            return
        now = self._clock()
        with self._lock:
            window = self._requests[user]
            while window and window[0] <= now - WINDOW_S:
                window.popleft()
            if len(window) >= rpm:
                wait = max(1, math.ceil(window[0] + WINDOW_S - now))
                raise RateLimited(f"rate limit reached: {rpm} requests per minute for this API key; "
                                  f"retry in {wait} s", retry_after=wait)
            window.append(now)

    def acquire(self, user: str, limit: int) -> Callable[[], None]:
        """Take one generation slot of `user`; returns the function that gives it back (idempotent).

        Raises:
            RateLimited: `user` already has `limit` generations running.
        """
        if limit <= 0:
            return lambda: None
        with self._lock:
            if self._active[user] >= limit:
                raise RateLimited(f"concurrency limit reached: {limit} generations at once for this API key; "
                                  "retry when one has finished", retry_after=1, code="concurrency_limit_exceeded")
            self._active[user] += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    self._active[user] -= 1

        return release
