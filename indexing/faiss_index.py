"""The dense vector index, keyed by chunk rowid and persisted with a generation: exact or approximate.

Below `approx_threshold` vectors the index is exact (`IndexIDMap2(IndexFlatIP)`: a 10k-chunk scan is ~1 ms);
from there on it is an inverted file (`IndexIVFFlat`, about 4*sqrt(n) lists, `nprobe` probed per query),
which `rag bench query` measures against exact search (recall@10). Both support deletes.

Vectors are L2-normalised, so inner product = cosine similarity. The index is a cache of the embeddings
stored in SQLite: the file `faiss.index` is written to a temporary file and moved into place with
`os.replace`, then `faiss.meta.json` records the SQLite generation it reflects. Both are written and read
under an advisory file lock, so a reader never pairs one writer's index with another's generation. A
missing, unreadable or out-of-date file is rebuilt from SQLite by the store.

Access control happens inside the search: an `IdFilter` (a bitmap with one bit per rowid, built once per
group set and generation by the store) is FAISS's ID selector, so the k best *allowed* vectors come back.
With the inverted file, `nprobe` grows as the allowed share shrinks, and a search that still finds fewer
than k allowed vectors is repeated over every list (exact among the allowed), so k hits come back whenever
k allowed vectors exist.
"""
from __future__ import annotations

import fcntl
import json
import math
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import faiss
import numpy as np

INDEX_FILE = "faiss.index"
META_FILE = "faiss.meta.json"
LOCK_FILE = "faiss.lock"
FLAT, IVF = "flat", "ivf"
DEFAULT_APPROX_THRESHOLD = 50_000
DEFAULT_NPROBE = 32
_TRAIN_POINTS_PER_LIST = 64


class IdFilter:
    """The ids a reader may see, as a FAISS `IDSelectorBitmap` (built once, reused by every query).

    Args:
        ids: Allowed ids (int64, non-negative).
    """

    def __init__(self, ids: Sequence[int] | np.ndarray) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.count = int(self.ids.size)
        bits = np.zeros(int(self.ids.max()) + 1 if self.count else 1, dtype=bool)
        bits[self.ids] = True
        self.bitmap = np.packbits(bits, bitorder="little")  # kept alive: FAISS reads it through a pointer
        self.selector = faiss.IDSelectorBitmap(int(self.bitmap.size), faiss.swig_ptr(self.bitmap))


class FaissIndex:
    """An inner-product index over int64 ids, with id-filtered search; exact (flat) or IVF.

    Args:
        dim: Vector size.
        generation: The store generation these vectors reflect (None: unknown).
        nprobe: Lists an IVF index probes per query (ignored when flat).
    """

    def __init__(self, dim: int, generation: int | None = None, nprobe: int = DEFAULT_NPROBE) -> None:
        self.dim = dim
        self.generation = generation
        self.nprobe = nprobe
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @classmethod
    def build(cls, dim: int, ids: Sequence[int], vectors: np.ndarray, generation: int | None = None,
              approx_threshold: int = DEFAULT_APPROX_THRESHOLD, nprobe: int = DEFAULT_NPROBE,
              nlist: int | None = None) -> "FaissIndex":
        """An index over `vectors`: flat below `approx_threshold` vectors, else IVF trained on them."""
        built = cls(dim, generation=generation, nprobe=nprobe)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), dim)
        if len(ids) >= max(approx_threshold, 1):
            nlist = nlist or max(16, min(65536, int(4 * math.sqrt(len(ids))), len(ids) // 39))  # >= 39 points a list
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            sample = vectors
            if len(vectors) > nlist * _TRAIN_POINTS_PER_LIST:
                rows = np.random.default_rng(0).choice(len(vectors), nlist * _TRAIN_POINTS_PER_LIST, replace=False)
                sample = vectors[np.sort(rows)]
            index.train(sample)
            index.nprobe = nprobe
            built.index = index
        built.add(ids, vectors)
        return built

    @property
    def kind(self) -> str:
        """"flat" (exact) or "ivf" (approximate)."""
        return IVF if isinstance(self.index, faiss.IndexIVF) else FLAT

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
        return int(self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64))))

    def search(self, vector: np.ndarray, k: int,
               allowed_ids: "IdFilter | Sequence[int] | None" = None) -> list[tuple[int, float]]:
        """The k nearest ids to `vector`, best first, as (id, inner product).

        Args:
            vector: Query vector of shape (dim,) or (1, dim), normalised.
            k: Number of results wanted.
            allowed_ids: If given (an `IdFilter`, or ids), only these ids are considered; filtering happens
                inside the search, so k results come back whenever k allowed vectors exist.
        """
        if k <= 0 or self.ntotal == 0:
            return []
        allowed = allowed_ids if allowed_ids is None or isinstance(allowed_ids, IdFilter) else IdFilter(allowed_ids)
        if allowed is not None and allowed.count == 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        k = min(k, self.ntotal, allowed.count if allowed is not None else self.ntotal)
        if self.kind == FLAT:
            params = faiss.SearchParameters(sel=allowed.selector) if allowed is not None else None
            return _pairs(*self.index.search(query, k, params=params))
        return self._search_ivf(query, k, allowed)

    def _search_ivf(self, query: np.ndarray, k: int, allowed: IdFilter | None) -> list[tuple[int, float]]:
        nlist = int(self.index.nlist)
        share = 1.0 if allowed is None else max(allowed.count / max(self.ntotal, 1), 1.0 / nlist)
        nprobe = min(nlist, math.ceil(self.nprobe / share))
        found = self._probe(query, k, allowed, nprobe)
        if len(found) < k and nprobe < nlist:  # too few allowed vectors in the probed lists: scan them all
            found = self._probe(query, k, allowed, nlist)
        return found

    def _probe(self, query: np.ndarray, k: int, allowed: IdFilter | None, nprobe: int) -> list[tuple[int, float]]:
        params = faiss.SearchParametersIVF(nprobe=nprobe)
        if allowed is not None:
            params.sel = allowed.selector
        return _pairs(*self.index.search(query, k, params=params))

    def ids(self) -> np.ndarray:
        """All ids in the index (int64)."""
        if self.kind == FLAT:
            return faiss.vector_to_array(self.index.id_map).astype(np.int64)
        lists = self.index.invlists
        parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                 for i in range(lists.nlist) if lists.list_size(i)]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

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
            meta = {"generation": self.generation, "ntotal": self.ntotal, "dim": self.dim, "kind": self.kind}
            _atomic_write(directory / META_FILE, json.dumps(meta).encode())

    @classmethod
    def load(cls, directory: Path, dim: int, nprobe: int = DEFAULT_NPROBE) -> "FaissIndex | None":
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
        if index.d != dim or index.ntotal != meta.get("ntotal") or not isinstance(index, (faiss.IndexIDMap2,
                                                                                          faiss.IndexIVFFlat)):
            return None
        loaded = cls(dim, generation=meta.get("generation"), nprobe=nprobe)
        loaded.index = index
        return loaded

    @staticmethod
    def saved_generation(directory: Path) -> int | None:
        """The generation recorded next to the saved index (None if there is none)."""
        try:
            return json.loads((directory / META_FILE).read_text()).get("generation")
        except (OSError, ValueError):
            return None


def _pairs(scores: np.ndarray, ids: np.ndarray) -> list[tuple[int, float]]:
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


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
