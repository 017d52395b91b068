"""Runs the evaluation suites end to end: load data, build an index of its own, evaluate, collect.

The evaluation never touches the user's index: every corpus is ingested into a fresh home under a
temporary folder (or `EvalConfig.work_dir`, reused across runs: ingestion is idempotent). Components
come from a `runtime_factory(home) -> rag.runtime.Runtime`, given by the entry point that read the
settings; the embedder and the detector are shared between the homes of one run.

Suites: ``retrieval`` and ``multihop`` (data/evals/*.jsonl over data/corpus), ``routing``
(data/routing/*.jsonl), ``answers`` (a seeded sample through the assistant), and an external
dataset (`EvalConfig.dataset`: SQuAD 2.0 JSON, BEIR folder or a native JSONL file).
"""
from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals import datasets as ds
from evals.suites import MODES, SEARCH_K, evaluate_answers, evaluate_retrieval, evaluate_routing

SUITES = ("retrieval", "multihop", "routing", "answers")
DEFAULT_SUITES = ("retrieval", "multihop", "routing")
ROUTING_FILES = ("prompts.jsonl", "generated.jsonl")
SHARED_COMPONENTS = ("embedder", "detector")

RuntimeFactory = Callable[[Path], Any]


@dataclass
class EvalConfig:
    """What to evaluate and how much of it.

    Attributes:
        suites: names from `SUITES`; ``answers`` runs on `dataset` when one is given.
        data_dir: folder holding evals/ and routing/ (the project's data/).
        corpus_dir: the corpus the native sets refer to (ingested for the evaluation).
        dataset, dataset_format, split: an external dataset (squad | beir | native) to evaluate.
        modes: retriever modes compared in every retrieval suite.
        limit: at most this many queries (or prompts) per suite, sampled with `seed`.
        answers_sample: questions sent through the assistant in the answers suite.
        answer_mode: retriever mode used to fetch the full text of cited chunks.
        compare_local: answers suite: also answer the same questions on the local path (the server
            marked down, so the policy keeps them local) and compare F1 on the questions the server
            answered.
        work_dir: keep the evaluation indexes here (default: a temporary folder, removed after).
        progress: called with a short line as each step starts (the CLI prints it to stderr).
    """

    suites: tuple[str, ...] = DEFAULT_SUITES
    data_dir: Path = Path("data")
    corpus_dir: Path = Path("data/corpus")
    dataset: Path | None = None
    dataset_format: str | None = None
    split: str = "test"
    modes: tuple[str, ...] = MODES
    limit: int | None = None
    answers_sample: int = 30
    answer_mode: str = "all"
    compare_local: bool = False
    seed: int = 13
    work_dir: Path | None = None
    progress: Callable[[str], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Plan:
    native: dict[str, ds.RetrievalDataset] = field(default_factory=dict)
    prompts: list[ds.RoutingPrompt] | None = None
    external: ds.RetrievalDataset | None = None


def guess_format(path: Path) -> str:
    """The dataset format implied by a path: folder -> beir, .json -> squad, .jsonl -> native."""
    if Path(path).is_dir():
        return "beir"
    return "squad" if Path(path).suffix.lower() == ".json" else "native"


def plan(config: EvalConfig) -> _Plan:
    """Load every dataset the run needs, before any model loads.

    Raises:
        DatasetError: unknown suite, missing or malformed dataset.
    """
    unknown = [s for s in config.suites if s not in SUITES]
    if unknown:
        raise ds.DatasetError(f"unknown suite(s) {', '.join(unknown)}; use: {', '.join(SUITES)}")
    result = _Plan()
    native_needed = [s for s in ("retrieval", "multihop") if s in config.suites]
    if "answers" in config.suites and config.dataset is None and "retrieval" not in native_needed:
        native_needed.append("retrieval")
    for name in native_needed:
        loaded = ds.load_native(config.data_dir / "evals" / f"{name}.jsonl", config.corpus_dir, name)
        result.native[name] = loaded
    if "routing" in config.suites:
        files = [config.data_dir / "routing" / f for f in ROUTING_FILES if (config.data_dir / "routing" / f).is_file()]
        if not files:
            raise ds.DatasetError(f"no routing prompts in {config.data_dir / 'routing'} (expected {', '.join(ROUTING_FILES)})")
        result.prompts = ds.load_routing(files)
    if config.dataset is not None:
        fmt = config.dataset_format or guess_format(config.dataset)
        result.external = ds.load_dataset(config.dataset, fmt, corpus_dir=config.corpus_dir, split=config.split)
    return result


def _runtime(factory: RuntimeFactory, home: Path, shared: Any | None) -> Any:
    runtime = factory(home)
    if shared is not None:
        for name in SHARED_COMPONENTS:  # reuse loaded models: a cached_property may be assigned
            if name in vars(shared):
                setattr(runtime, name, vars(shared)[name])
    return runtime


def write_documents(documents: tuple[ds.Document, ...], folder: Path) -> Path:
    """Write in-memory documents under `folder` at their source paths (one ingest batch later)."""
    for doc in documents:
        path = folder / doc.source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc.text, encoding="utf-8")
    return folder


def ingest(runtime: Any, dataset: ds.RetrievalDataset, work: Path,
           progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Ingest the dataset's corpus into the runtime's index in one batch; returns counts and seconds.

    A corpus folder keeps its manifest's groups; written documents are readable by group "all".
    """
    start = time.perf_counter()
    if progress:
        progress(f"ingesting the {dataset.name} corpus into {work}")
    if dataset.corpus_dir is not None:
        report = runtime.ingestor.ingest_paths([dataset.corpus_dir])
    else:
        folder = write_documents(dataset.documents, work / f"{dataset.name}-corpus")
        report = runtime.ingestor.ingest_paths([folder], groups=["all"], classification="public")
    refused = [f"{r.source}: {r.reason}" for r in report.refused]
    return {"counts": report.counts(), "refused": refused, "seconds": round(time.perf_counter() - start, 2)}


def available_modes(runtime: Any, modes: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, str]]:
    """Drop graph-only mode when the index has no knowledge graph; say why."""
    if "graph" not in modes:
        return modes, {}
    try:
        nodes = int(runtime.graph.stats().get("nodes", 0))
    except Exception as exc:  # no graph package or no graph: report, do not fail the other modes
        return tuple(m for m in modes if m != "graph"), {"graph": f"graph unavailable: {type(exc).__name__}: {exc}"}
    if nodes == 0:
        return tuple(m for m in modes if m != "graph"), {"graph": "knowledge graph is empty"}
    return modes, {}


def _retrieval_suite(runtime: Any, dataset: ds.RetrievalDataset, config: EvalConfig, info: dict) -> dict[str, Any]:
    queries = ds.sample(dataset.queries, config.limit, config.seed)
    modes, skipped = available_modes(runtime, config.modes)
    say = config.progress
    result = evaluate_retrieval(queries, runtime.retriever, modes, (lambda m: say(f"{dataset.name} {m}")) if say else None)
    result.update(dataset=dataset.name, skipped=skipped, index=info)
    if dataset.corpus_dir is not None:
        result["warnings"] = ds.check_native(dataset)
    return result


class _MarkedDown:
    """A backend that reports itself down: the policy then routes as if the server were unavailable."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.name = backend.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def health(self) -> Any:
        from routing.backends.base import BackendHealth

        return BackendHealth(ok=False, detail="marked down by the evaluation (local-path comparison)")

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        from routing.errors import BackendUnavailable

        raise BackendUnavailable("marked down by the evaluation", backend=self.name)

    stream = generate


def local_path_assistant(assistant: Any) -> Any:
    """A copy of `assistant` whose server backend is down (benign questions are answered locally)."""
    import copy

    local = copy.copy(assistant)
    local.backends = {**assistant.backends, "server": _MarkedDown(assistant.backends["server"])}
    return local


def compare_paths(policy: dict[str, Any], local: dict[str, Any]) -> dict[str, Any]:
    """F1 of the server path vs the local path on the answerable questions the server answered."""
    same = [qid for qid, row in policy["per_query"].items()
            if row["route"] == "server" and "f1" in row and "f1" in local["per_query"].get(qid, {})]
    from evals import metrics

    return {"questions": len(same),
            "server_f1": metrics.mean(policy["per_query"][q]["f1"] for q in same),
            "local_f1": metrics.mean(local["per_query"][q]["f1"] for q in same)}


def _answers_suite(runtime: Any, dataset: ds.RetrievalDataset, config: EvalConfig) -> dict[str, Any]:
    from rag.types import Principal

    queries = ds.sample_balanced(dataset.queries, config.answers_sample, config.seed)
    if config.progress:
        config.progress(f"answers: {len(queries)} questions through the assistant")

    def asker(assistant: Any) -> Callable[[ds.EvalQuery], Any]:
        return lambda query: assistant.answer(query.question, Principal("eval", tuple(query.groups)))

    def chunk_texts(query: ds.EvalQuery) -> dict[str, Any]:
        hits = runtime.retriever.search(query.question, groups=list(query.groups), k=SEARCH_K, mode=config.answer_mode)
        return {h.chunk_id: h for h in hits}

    result = evaluate_answers(queries, asker(runtime.assistant), chunk_texts, config.progress)
    result["dataset"] = dataset.name
    if config.compare_local:
        if config.progress:
            config.progress(f"answers: the same {len(queries)} questions on the local path")
        local = evaluate_answers(queries, asker(local_path_assistant(runtime.assistant)), chunk_texts, config.progress)
        result["local_path"] = {"metrics": local["metrics"], "latency": local["latency"], "routes": local["routes"]}
        result["compare"] = compare_paths(result, local)
        result["metrics"]["server_minus_local_f1"] = result["compare"]["server_f1"] - result["compare"]["local_f1"]
    return result


def run_evals(config: EvalConfig, runtime_factory: RuntimeFactory,
              route_factory: Callable[[Any], Callable[[str], Any]] | None = None) -> dict[str, Any]:
    """Run the configured suites and return the report (see `evals.report` for its shape).

    Args:
        config: what to run.
        runtime_factory: home folder -> a `rag.runtime.Runtime` whose index lives there.
        route_factory: runtime -> (text -> decision); default `evals.routes.route_function`.

    Raises:
        DatasetError: before any model is loaded, when a dataset is missing or malformed.
    """
    loaded = plan(config)
    suites: dict[str, Any] = {}
    with ExitStack() as stack:
        work = config.work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rag-eval-")))
        native = None
        if loaded.native or loaded.prompts is not None:
            native = _runtime(runtime_factory, Path(work) / "native", None)
        if loaded.native:
            info = ingest(native, next(iter(loaded.native.values())), Path(work), config.progress)
            for name in ("retrieval", "multihop"):
                if name in loaded.native and name in config.suites:
                    suites[name] = _retrieval_suite(native, loaded.native[name], config, info)
            if "answers" in config.suites and loaded.external is None:
                suites["answers"] = _answers_suite(native, loaded.native["retrieval"], config)
        if loaded.prompts is not None:
            if route_factory is None:
                from evals.routes import route_function as route_factory
            prompts = ds.sample(loaded.prompts, config.limit, config.seed)
            if config.progress:
                config.progress(f"routing: {len(prompts)} prompts")
            suites["routing"] = evaluate_routing(prompts, route_factory(native))
        if loaded.external is not None:
            ext = loaded.external
            runtime = _runtime(runtime_factory, Path(work) / ext.name, native)
            info = ingest(runtime, ext, Path(work), config.progress)
            suites[ext.name] = _retrieval_suite(runtime, ext, config, info)
            if "answers" in config.suites:
                suites[f"{ext.name}-answers"] = _answers_suite(runtime, ext, config)
    return {"suites": suites, "config": _config_view(config)}


def _config_view(config: EvalConfig) -> dict[str, Any]:
    view = {k: v for k, v in vars(config).items() if k not in ("extra", "progress")}
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in view.items()}
