"""The bounded FIFO queue in front of the local model: admission, order, time limit, cancellation."""
from __future__ import annotations

import threading
import time

import pytest

from routing.backends.queue import GenerationQueue, TicketedDeltas
from routing.errors import BackendUnavailable


def test_when_queue_is_full_then_next_request_is_refused_at_once_and_retryable() -> None:
    queue = GenerationQueue(max_waiting=1, max_wait_s=5)
    rejected: list[str] = []
    queue.on_reject.append(rejected.append)
    running = queue.admit().__enter__()
    waiting = queue.admit()
    started = time.perf_counter()
    with pytest.raises(BackendUnavailable, match="queue full") as info:
        queue.admit()
    assert info.value.is_retryable and time.perf_counter() - started < 0.1
    assert (queue.waiting, queue.running, queue.rejected, rejected) == (1, 1, 1, ["full"])
    running.cancel()
    waiting.cancel()
    assert (queue.waiting, queue.running) == (0, 0)


def test_when_turn_does_not_come_within_max_wait_then_busy_error_and_place_freed() -> None:
    queue = GenerationQueue(max_waiting=2, max_wait_s=0.2)
    holder = queue.admit().__enter__()
    with pytest.raises(BackendUnavailable, match="busy for more than"):
        with queue.admit():
            pass
    assert queue.waiting == 0 and queue.rejected == 1
    holder.cancel()


def test_when_several_wait_then_they_run_one_at_a_time_in_arrival_order() -> None:
    queue = GenerationQueue(max_waiting=5, max_wait_s=10)
    order: list[int] = []
    overlap = []
    holder = queue.admit().__enter__()
    tickets = [queue.admit() for _ in range(4)]

    def run(i: int) -> None:
        with tickets[i]:
            overlap.append(queue.running)
            order.append(i)
            time.sleep(0.02)

    threads = [threading.Thread(target=run, args=(i,)) for i in reversed(range(4))]  # start in reverse order
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    holder.cancel()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3] and set(overlap) == {1}


def test_when_a_waiting_ticket_is_cancelled_then_its_place_is_free_for_another() -> None:
    queue = GenerationQueue(max_waiting=1, max_wait_s=5)
    holder = queue.admit().__enter__()
    queue.admit().cancel()
    queue.admit().cancel()  # the cancelled one no longer counts
    holder.cancel()
    with queue.admit():
        assert queue.running == 1


def test_when_stream_is_dropped_before_first_delta_then_ticket_released() -> None:
    queue = GenerationQueue(max_waiting=1, max_wait_s=5)
    holder = queue.admit().__enter__()
    ticket = queue.admit()

    def deltas():
        with ticket:
            yield "x"

    stream = TicketedDeltas(deltas(), ticket)
    assert queue.waiting == 1
    stream.close()  # never started: the generator body (and its `with`) never ran
    assert queue.waiting == 0
    holder.cancel()
