"""A bounded, first-come first-served queue in front of a model that serves one request at a time.

The local llama.cpp model is one in-process instance: requests take turns. Without a bound, a burst of
requests piles up threads that each wait minutes. `GenerationQueue` admits at most `max_waiting` requests
behind the running one and lets each wait at most `max_wait_s`; beyond that it raises `BackendUnavailable`
(retryable) at once. The assistant then asks the policy again with the local backend marked down: a
sensitive request is refused with 503 + Retry-After, never sent to the server.

Example:
    queue = GenerationQueue(max_waiting=4, max_wait_s=30)
    ticket = queue.admit()          # raises BackendUnavailable when 4 are already waiting
    with ticket:                    # waits for its turn (at most 30 s), then holds the model
        ...generate...
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

from routing.errors import BackendUnavailable


class GenerationQueue:
    """Admission control and FIFO turns for one single-request model.

    Args:
        max_waiting: Requests that may wait while one runs; the next one is refused at once.
        max_wait_s: How long an admitted request waits for its turn before it is refused.
        backend: Backend name put on the errors.
    """

    def __init__(self, max_waiting: int = 4, max_wait_s: float = 30.0, backend: str = "local") -> None:
        self.max_waiting = max_waiting
        self.max_wait_s = max_wait_s
        self.backend = backend
        self._lock = threading.Lock()
        self._queue: deque[Ticket] = deque()
        self._running: Ticket | None = None
        self.rejected = 0
        self.on_wait: list[Callable[[float], None]] = []  # seconds each request waited for its turn
        self.on_reject: list[Callable[[str], None]] = []  # "full" or "timeout"

    @property
    def waiting(self) -> int:
        """Requests admitted and not yet running."""
        return len(self._queue)

    @property
    def running(self) -> int:
        """1 while a request holds the model, else 0."""
        return int(self._running is not None)

    def admit(self) -> "Ticket":
        """A place in the queue (its turn comes in `Ticket.__enter__`).

        Raises:
            BackendUnavailable: (retryable) `max_waiting` requests are already waiting.
        """
        with self._lock:
            full = len(self._queue) >= self.max_waiting + (self._running is None)  # + the one about to run
            if full:
                self.rejected += 1
            else:
                ticket = Ticket(self)
                self._queue.append(ticket)
        if full:
            self._notify(self.on_reject, "full")
            raise BackendUnavailable(f"{self.backend} model busy: queue full ({self.max_waiting} waiting); "
                                     "retry later", backend=self.backend)
        return ticket

    def _wait_turn(self, ticket: "Ticket") -> None:
        started = time.perf_counter()
        deadline = started + self.max_wait_s
        while True:
            with self._lock:
                if self._running is None and self._queue and self._queue[0] is ticket:
                    self._queue.popleft()
                    self._running = ticket
                    break
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    self._drop(ticket)
                    ticket.done = True
                    self.rejected += 1
                    break
                ticket.event.clear()
            ticket.event.wait(min(remaining, 0.5))
        if self._running is not ticket:
            self._notify(self.on_reject, "timeout")
            raise BackendUnavailable(f"{self.backend} model busy for more than {self.max_wait_s:.0f} s: retry later",
                                     backend=self.backend)
        self._notify(self.on_wait, time.perf_counter() - started)

    def _release(self, ticket: "Ticket") -> None:
        with self._lock:
            if self._running is ticket:
                self._running = None
            else:
                self._drop(ticket)
            following = self._queue[0] if self._queue else None
        if following is not None:
            following.event.set()

    def _drop(self, ticket: "Ticket") -> None:
        try:
            self._queue.remove(ticket)
        except ValueError:
            pass

    @staticmethod
    def _notify(callbacks: list, value: object) -> None:
        for callback in callbacks:
            try:
                callback(value)
            except Exception:  # noqa: BLE001 - metrics must never break generation
                pass


class Ticket:
    """One request's place: `with ticket:` waits for the turn and holds the model; `cancel()` gives it up."""

    def __init__(self, queue: GenerationQueue) -> None:
        self.queue = queue
        self.event = threading.Event()
        self.done = False

    def __enter__(self) -> "Ticket":
        self.queue._wait_turn(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def cancel(self) -> None:
        """Leave the queue, or free the model if this ticket holds it (idempotent)."""
        if not self.done:
            self.done = True
            self.queue._release(self)


class TicketedDeltas:
    """Stream deltas that own a ticket: closing (or dropping) them before the first delta frees the place."""

    def __init__(self, deltas: Iterator[str], ticket: Ticket) -> None:
        self._deltas = deltas
        self._ticket = ticket

    def __iter__(self) -> "TicketedDeltas":
        return self

    def __next__(self) -> str:
        return next(self._deltas)

    def close(self) -> None:
        try:
            close = getattr(self._deltas, "close", None)
            if close is not None:
                close()
        finally:
            self._ticket.cancel()

    def __del__(self) -> None:
        self._ticket.cancel()


__all__ = ["GenerationQueue", "Ticket", "TicketedDeltas"]
