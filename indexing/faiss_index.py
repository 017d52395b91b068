"""The dense vector index: FAISS `IndexIDMap2(IndexFlatIP)` keyed by chunk rowid, persisted with a generation.

Vectors are L2-normalised, so inner product = cosine similarity. The index is a cache of the embeddings
stored in SQLite: the file `faiss.index` is written to a temporary file and moved into place with
`os.replace`, then `faiss.meta.json` records the SQLite generation it reflects. Both are written and read
under an advisory file lock, so a reader never pairs one writer's index with another's generation. A
missing, unreadable or out-of-date file is rebuilt from SQLite by the store.

Flat (exact) search is right for this corpus size (thousands of chunks: < 1 ms per query); swap the inner
index for HNSW or IVF when the corpus reaches millions of chunks.
"""
from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import faiss
import numpy as np

INDEX_FILE = "faiss.index"
META_FILE = "faiss.meta.json"
LOCK_FILE = "faiss.lock"


class FaissIndex:
    """An exact inner-product index over int64 ids, with id-filtered search.

    Args:
        dim: Vector size.
        generation: The store generation these vectors reflect (None: unknown).
    """

    def __init__(self, dim: int, generation: int | None = None) -> None:
        self.dim = dim
        self.generation = generation
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def ntotal(self) -> int:
        """Number of vectors."""
        return int(self.index.ntotal)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Add vectors under the given ids (ids must not be present already)."""
        if len(ids):
            vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
            self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: Sequence[int]) -> int:
        """Remove the given ids; returns how many were present."""
        if not len(ids):
            return 0
        return int(self.index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(self, vector: np.ndarray, k: int, allowed_ids: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """The k nearest ids to `vector`, best first, as (id, inner product).

        Args:
            vector: Query vector of shape (dim,) or (1, dim), normalised.
            k: Number of results wanted.
            allowed_ids: If given, only these ids are considered (filtering happens inside the search, so
                k results come back whenever k allowed vectors exist).
        """
        if k <= 0 or self.ntotal == 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        params = None
        if allowed_ids is not None:
            allowed = np.asarray(allowed_ids, dtype=np.int64)
            if allowed.size == 0:
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
            k = min(k, int(allowed.size))
        scores, ids = self.index.search(query, min(k, self.ntotal), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def ids(self) -> np.ndarray:
        """All ids in the index (int64)."""
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    # --- persistence -----------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the index and its generation atomically (temp file + os.replace) under an exclusive lock.

        A file of a newer generation (another process saved after us) is left alone: generations only grow.
        """
        directory.mkdir(parents=True, exist_ok=True)
        with _locked(directory, fcntl.LOCK_EX):
            saved = self.saved_generation(directory)
            if saved is not None and self.generation is not None and saved > self.generation:
                return
            _atomic_write(directory / INDEX_FILE, faiss.serialize_index(self.index).tobytes())
            meta = {"generation": self.generation, "ntotal": self.ntotal, "dim": self.dim}
            _atomic_write(directory / META_FILE, json.dumps(meta).encode())

    @classmethod
    def load(cls, directory: Path, dim: int) -> "FaissIndex | None":
        """Read a saved index; None if it is missing, unreadable or of another dimension."""
        if not (directory / INDEX_FILE).is_file():
            return None
        with _locked(directory, fcntl.LOCK_SH):
            try:
                meta = json.loads((directory / META_FILE).read_text())
                raw = np.frombuffer((directory / INDEX_FILE).read_bytes(), dtype=np.uint8)
                index = faiss.deserialize_index(raw)
            except (OSError, ValueError, RuntimeError):
                return None
        if index.d != dim or index.ntotal != meta.get("ntotal") or not isinstance(index, faiss.IndexIDMap2):
            return None
        loaded = cls(dim, generation=meta.get("generation"))
        loaded.index = index
        return loaded

    @staticmethod
    def saved_generation(directory: Path) -> int | None:
        """The generation recorded next to the saved index (None if there is none)."""
        try:
            return json.loads((directory / META_FILE).read_text()).get("generation")
        except (OSError, ValueError):
            return None


@contextmanager
def _locked(directory: Path, mode: int) -> Iterator[None]:
    with open(directory / LOCK_FILE, "a+b") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
