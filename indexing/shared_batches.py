"""Embedding one call's batches on two threads: the caller's and a helper pool's worker once it is free.

At ingest the index embedding runs on a one-thread pool while the main thread labels the same chunks;
the personal-matter classifier then embeds its sentences on the main thread, and the pool's worker,
done with the index vectors, would sit idle. `embed_in_shared_batches` cuts the texts into the batches
`SentenceTransformer.encode` itself would form (longest first, `batch_size` each) and lets both threads
take batches from one queue until it is empty. A batch is encoded by one `encode` call either way, so
each vector is the one a single call over all texts gives (the same padded batch through the same model).

The caller never waits for the helper to start: it waits only for batches the helper has taken, so a
helper still busy with other work costs nothing (its queued task later finds the queue empty).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

import numpy as np

EncodeBatch = Callable[[list[str]], np.ndarray]


def length_sorted_batches(texts: Sequence[str], batch_size: int) -> list[np.ndarray]:
    """Indices of `texts` in the batches `SentenceTransformer.encode` forms: longest (in characters)
    first, `batch_size` at a time (the same `np.argsort` call, so ties break the same way)."""
    order = np.argsort([-len(t) for t in texts])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def embed_in_shared_batches(encode: EncodeBatch, texts: Sequence[str], batch_size: int,
                            helper: Executor) -> np.ndarray:
    """`encode` over `texts` batch by batch, on this thread and on `helper` when it is free; rows in
    the order of `texts`. An error in either thread is raised here."""
    batches = length_sorted_batches(texts, batch_size)
    if len(batches) < 2:
        return np.asarray(encode(list(texts)))
    results: list[np.ndarray | BaseException | None] = [None] * len(batches)
    state = {"next": 0, "left": len(batches)}
    done = threading.Condition()

    def work() -> None:
        while True:
            with done:
                i = state["next"]
                if i >= len(batches):
                    return
                state["next"] = i + 1
            try:
                result: np.ndarray | BaseException = np.asarray(encode([texts[j] for j in batches[i]]))
            except BaseException as exc:  # handed to the caller, which raises it
                result = exc
            with done:
                results[i] = result
                state["left"] -= 1
                done.notify_all()

    queued = helper.submit(work)
    work()
    with done:
        done.wait_for(lambda: state["left"] == 0)
    queued.cancel()  # not started yet: nothing left for it anyway
    for result in results:
        if isinstance(result, BaseException):
            raise result
    out = np.empty((len(texts), results[0].shape[1]), dtype=np.float32)  # type: ignore[union-attr]
    for rows, result in zip(batches, results, strict=True):
        out[rows] = result
    return out


__all__ = ["embed_in_shared_batches", "length_sorted_batches"]
