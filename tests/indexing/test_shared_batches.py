"""Sharing one embed call's batches with a helper thread: the same batches, the same rows, in order,
whatever the helper does (busy, free, failing). Fake encoders here; the real model in
tests/rag/test_ingest_shared_embedding.py (slow)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from indexing.shared_batches import embed_in_shared_batches, length_sorted_batches

TEXTS = [f"text {'x' * (i * 7 % 23)} {i}" for i in range(23)]


def _rowwise(batch: list[str]) -> np.ndarray:
    """A fake encoder: each row a function of its own text only."""
    return np.asarray([[len(t), sum(map(ord, t)) % 997] for t in batch], dtype=np.float32)


@pytest.mark.parametrize("texts, batch_size, sizes", [
    (["a", "ccc", "bb"], 2, [2, 1]),
    (TEXTS, 5, [5, 5, 5, 5, 3]),
    (TEXTS, 64, [23]),
])
def test_when_cutting_batches_then_longest_first_in_batch_size_pieces(texts, batch_size, sizes) -> None:
    batches = length_sorted_batches(texts, batch_size)
    assert [len(b) for b in batches] == sizes
    lengths = [len(texts[i]) for b in batches for i in b]
    assert lengths == sorted(lengths, reverse=True)
    assert sorted(i for b in batches for i in b) == list(range(len(texts)))


def test_when_the_helper_is_free_then_it_takes_batches_and_rows_keep_the_texts_order() -> None:
    helper_took = threading.Event()
    seen: list[tuple[str, int]] = []

    def encode(batch: list[str]) -> np.ndarray:
        seen.append((threading.current_thread().name, len(batch)))
        if threading.current_thread().name.startswith("helper"):
            helper_took.set()
        else:
            assert helper_took.wait(10)  # the caller's batch ends only once the helper has one
        return _rowwise(batch)

    with ThreadPoolExecutor(1, thread_name_prefix="helper") as pool:
        out = embed_in_shared_batches(encode, TEXTS, 5, pool)
    np.testing.assert_array_equal(out, _rowwise(TEXTS))
    assert any(name.startswith("helper") for name, _ in seen) and len(seen) == 5


def test_when_the_helper_is_busy_then_the_caller_does_every_batch_without_waiting() -> None:
    release = threading.Event()
    names: list[str] = []

    def encode(batch: list[str]) -> np.ndarray:
        names.append(threading.current_thread().name)
        return _rowwise(batch)

    with ThreadPoolExecutor(1, thread_name_prefix="helper") as pool:
        pool.submit(release.wait, 10)  # the index embedding, still running
        out = embed_in_shared_batches(encode, TEXTS, 5, pool)
        release.set()
    np.testing.assert_array_equal(out, _rowwise(TEXTS))
    assert names and not any(n.startswith("helper") for n in names)


def test_when_a_batch_fails_then_the_error_is_raised_to_the_caller() -> None:
    def encode(batch: list[str]) -> np.ndarray:
        if any(t.endswith(" 3") for t in batch):
            raise RuntimeError("model failed")
        return _rowwise(batch)

    with ThreadPoolExecutor(1) as pool, pytest.raises(RuntimeError, match="model failed"):
        embed_in_shared_batches(encode, TEXTS, 5, pool)


def test_when_one_batch_is_enough_then_it_is_one_plain_call() -> None:
    calls: list[list[str]] = []

    def encode(batch: list[str]) -> np.ndarray:
        calls.append(batch)
        return _rowwise(batch)

    with ThreadPoolExecutor(1) as pool:
        out = embed_in_shared_batches(encode, ["b", "aa"], 5, pool)
    assert calls == [["b", "aa"]]
    np.testing.assert_array_equal(out, _rowwise(["b", "aa"]))
