"""A deterministic bag-of-words hashing embedder (8 dims) for tests of pure logic: real vectors, no model."""
from __future__ import annotations

import hashlib

import numpy as np


class HashEmbedder:
    """Words hashed into 8 dimensions, L2-normalised; texts sharing words get similar vectors."""

    name = "test-hash-embedder"
    dim = 8

    def warm_up(self) -> None:
        pass

    def embed(self, texts) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, int(hashlib.sha1(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-9)
        return out

    def count_tokens(self, text: str) -> int:
        return len(text.split())
