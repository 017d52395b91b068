"""Runs the evaluation suites end to end: load data, build an index of its own, evaluate, collect.

The evaluation never touches the user's index: every corpus is ingested into a fresh home under a
temporary folder (or `EvalConfig.work_dir`, reused across runs: ingestion is idempotent). What is
measured comes in as arguments from the entry point that read the settings (`evals` never imports
`rag`): a `runtime_factory(home)` returning an object with `ingestor`, `retriever` and `graph` (the
`Runtime` protocol below), a `route_factory(runtime) -> route(text)` and an
`ask_factory(runtime, local_only) -> ask(question, groups)`; the embedder and the detector are shared between the
homes of one run.

Suites: ``retrieval`` and ``multihop`` (data/evals/*.jsonl over data/corpus), ``routing``
(prompt sets side by side: dev = data/routing/*.jsonl, tuning = data/routing/tuning/prompts.jsonl,
heldout = data/heldout/*.jsonl when present), ``answers`` (a seeded sample through the assistant), and an external
dataset (`EvalConfig.dataset`: SQuAD 2.0 JSON, BEIR folder or a native JSONL file).
"""
from __future__ import annotations

import json

import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from evals import datasets as ds
from routing.levels import Level
from evals.suites import MODES, SEARCH_K, evaluate_answers, evaluate_retrieval, evaluate_routing_sets

SUITES = ("retrieval", "multihop", "routing", "answers")
DEFAULT_SUITES = ("retrieval", "multihop", "routing")
ROUTING_FILES = ("prompts.jsonl", "generated.jsonl")
ROUTING_SETS = {
    # name -> files under the data folder; the first set's figures are the suite's top-level metrics
    "dev": ("routing/prompts.jsonl", "routing/generated.jsonl"),
    "tuning": ("routing/tuning/prompts.jsonl",),
    "tuning_b": ("routing/tuning/prompts_b.jsonl",),  # a second author's set, written blind to the detectors
    "tuning_c": ("routing/tuning/prompts_c.jsonl",),  # a third author's set, blind, hard negatives and secrets
    "tuning_d": ("routing/tuning/prompts_d.jsonl",),  # a fourth author's set, blind, secrets and hard negatives
    "tuning_e": ("routing/tuning/prompts_e.jsonl",),  # a fifth author's set, blind, personal matters
    "tuning_f": ("routing/tuning/prompts_f.jsonl",),  # a sixth author's set, blind, weak-context ids and hard negatives
    "tuning_g": ("routing/tuning/prompts_g.jsonl",),  # a seventh author's set, blind, everyday traffic of many offices
    "tuning_h": ("routing/tuning/prompts_h.jsonl",),  # an eighth author's set, blind, ids without the usual label
    "tuning_i": ("routing/tuning/prompts_i.jsonl",),  # a ninth author's set, blind, secrets of ~110 vendors
    "tuning_j": ("routing/tuning/prompts_j.jsonl",),  # a tenth author's set, blind, home addresses and ids
    "tuning_k": ("routing/tuning/prompts_k.jsonl",),  # an eleventh author's set, blind, ids and secrets in work material
    "tuning_l": ("routing/tuning/prompts_l.jsonl",),  # a twelfth author's set, blind, addresses and matters in work tasks
    "tuning_m": ("routing/tuning/prompts_m.jsonl",),  # a thirteenth author's set, blind, hard benign near-misses and their sensitive twins
    "tuning_n": ("routing/tuning/prompts_n.jsonl",),  # a fourteenth author's set, blind, employee questions across industries
    "tuning_o": ("routing/tuning/prompts_o.jsonl",),  # a fifteenth author's set, blind, secrets and ids as people share them
    "tuning_p": ("routing/tuning/prompts_p.jsonl",),  # a sixteenth author's set, blind, personal matters and home addresses
    "tuning_q": ("routing/tuning/prompts_q.jsonl",),  # a seventeenth author's set, blind, over-caution near-misses and their twins
    "tuning_r": ("routing/tuning/prompts_r.jsonl",),  # an eighteenth author's set, blind, secrets and personal matters as people write them
    "tuning_s": ("routing/tuning/prompts_s.jsonl",),  # a nineteenth author's set, blind, secrets and identifiers in unusual shapes
    "tuning_t": ("routing/tuning/prompts_t.jsonl",),  # a twentieth author's set, blind, personal matters and secrets in everyday conversations
    "tuning_u": ("routing/tuning/prompts_u.jsonl",),  # a twenty-first author's set, blind, one sensitive item inside long pasted material
    "tuning_v": ("routing/tuning/prompts_v.jsonl",),  # a twenty-second author's set, blind, typed quickly: lower case, code-switching, loose numbers
    "tuning_generated": ("routing/tuning/generated_presidio.jsonl",),
    "heldout": ("heldout/prompts.jsonl",),
    "heldout_b": ("heldout/prompts_b.jsonl",),  # a second held-out author, committed before it was ever run
    "heldout_c": ("heldout/prompts_c.jsonl",),  # a third held-out author, committed before it was ever run
    "heldout_d": ("heldout/prompts_d.jsonl",),  # a fourth held-out author, committed before it was ever run
    "heldout_e": ("heldout/prompts_e.jsonl",),  # a fifth held-out author, committed before it was ever run
    "heldout_f": ("heldout/prompts_f.jsonl",),  # a sixth held-out author (voice, mobile, pasted threads), same rule
    "heldout_g": ("heldout/prompts_g.jsonl",),  # a seventh held-out author (work tasks carrying the data), same rule
    "heldout_h": ("heldout/prompts_h.jsonl",),  # an eighth held-out author (what employees type into the assistant), same rule
    "heldout_i": ("heldout/prompts_i.jsonl",),  # a ninth held-out author (a week of every department's traffic), same rule
    "heldout_j": ("heldout/prompts_j.jsonl",),  # a tenth held-out author (work on pasted material), same rule
    "heldout_k": ("heldout/prompts_k.jsonl",),  # an eleventh held-out author (the whole working week, quick and careful), same rule
    "heldout_generated": ("heldout/generated_presidio.jsonl",),
}
# Benign questions over internal documents whose personal data only detection can find (held-out).
CONTEXT_SETS = {"heldout": ("heldout/corpus", "heldout/context_questions.jsonl")}
SHARED_COMPONENTS = ("embedder", "detector")



class Runtime(Protocol):
    """What the runner uses of the components built for one index home."""

    ingestor: Any  # ingest_paths(paths, groups=None, classification=None) -> report with refused, counts()
    retriever: Any  # search(query, groups=..., k=..., mode=...) -> hits with chunk_id
    graph: Any  # stats() -> {"nodes": int, ...}
    route_text: Any  # (text) -> decision: the one routing entry point, both backends assumed up
    plan_question: Any  # (question, groups) -> plan with route and level (retrieval + routing, no generation)
    policy: Any  # the routing policy in force (its sensitive_level)


RuntimeFactory = Callable[[Path], Runtime]
RouteFactory = Callable[[Runtime], Callable[[str], Any]]  # runtime -> (text -> decision)
# (runtime, local_only) -> (question, groups -> answer); local_only: the server path is marked down
AskFactory = Callable[[Runtime, bool], Callable[[str, tuple[str, ...]], Any]]


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
    prompt_sets: dict[str, list[ds.RoutingPrompt]] = field(default_factory=dict)
    skipped_sets: dict[str, str] = field(default_factory=dict)
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
        result.prompt_sets, result.skipped_sets = load_prompt_sets(config.data_dir)
        if "dev" not in result.prompt_sets:
            raise ds.DatasetError(f"no routing prompts in {config.data_dir / 'routing'} (expected {', '.join(ROUTING_FILES)})")
        result.prompts = result.prompt_sets["dev"]
    if config.dataset is not None:
        fmt = config.dataset_format or guess_format(config.dataset)
        result.external = ds.load_dataset(config.dataset, fmt, corpus_dir=config.corpus_dir, split=config.split)
    return result


def load_prompt_sets(data_dir: Path) -> tuple[dict[str, list[ds.RoutingPrompt]], dict[str, str]]:
    """The routing prompt sets of `ROUTING_SETS` found under `data_dir`, and a note per skipped set or file."""
    sets: dict[str, list[ds.RoutingPrompt]] = {}
    skipped: dict[str, str] = {}
    for name, files in ROUTING_SETS.items():
        present = [data_dir / f for f in files if (data_dir / f).is_file()]
        missing = [f for f in files if not (data_dir / f).is_file()]
        if not present:
            skipped[name] = f"skipped: {', '.join(missing)} not found"
            continue
        if missing:
            skipped[name] = f"partial: {', '.join(missing)} not found"
        sets[name] = ds.load_routing(present)
    return sets, skipped


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


def compare_paths(policy: dict[str, Any], local: dict[str, Any]) -> dict[str, Any]:
    """F1 of the server path vs the local path on the answerable questions the server answered."""
    from evals import metrics

    same = [qid for qid, row in policy["per_query"].items()
            if row["route"] == "server" and "f1" in row and "f1" in local["per_query"].get(qid, {})]
    return {"questions": len(same),
            "server_f1": metrics.mean(policy["per_query"][q]["f1"] for q in same),
            "local_f1": metrics.mean(local["per_query"][q]["f1"] for q in same)}


def _answers_suite(runtime: Any, dataset: ds.RetrievalDataset, config: EvalConfig,
                   ask_factory: AskFactory) -> dict[str, Any]:
    queries = ds.sample_balanced(dataset.queries, config.answers_sample, config.seed)
    if config.progress:
        config.progress(f"answers: {len(queries)} questions through the assistant")

    def asker(local_only: bool) -> Callable[[ds.EvalQuery], Any]:
        answer = ask_factory(runtime, local_only)
        return lambda query: answer(query.question, tuple(query.groups))

    def chunk_texts(query: ds.EvalQuery) -> dict[str, Any]:
        hits = runtime.retriever.search(query.question, groups=list(query.groups), k=SEARCH_K, mode=config.answer_mode)
        return {h.chunk_id: h for h in hits}

    result = evaluate_answers(queries, asker(False), chunk_texts, config.progress)
    result["dataset"] = dataset.name
    if config.compare_local:
        if config.progress:
            config.progress(f"answers: the same {len(queries)} questions on the local path")
        local = evaluate_answers(queries, asker(True), chunk_texts, config.progress)
        result["local_path"] = {"metrics": local["metrics"], "latency": local["latency"], "routes": local["routes"]}
        result["compare"] = compare_paths(result, local)
        result["metrics"]["server_minus_local_f1"] = result["compare"]["server_f1"] - result["compare"]["local_f1"]
    return result


def run_evals(config: EvalConfig, runtime_factory: RuntimeFactory, route_factory: RouteFactory | None = None,
              ask_factory: AskFactory | None = None) -> dict[str, Any]:
    """Run the configured suites and return the report (see `evals.report` for its shape).

    Args:
        config: what to run.
        runtime_factory: home folder -> components whose index lives there (see `Runtime`).
        route_factory: runtime -> (text -> decision); default `runtime.route_text`, the runtime's one
            routing entry point (both backends assumed up, so the suite measures detection and policy).
        ask_factory: (runtime, local_only) -> (question, groups -> answer); needed by the ``answers`` suite.

    Raises:
        DatasetError: before any model is loaded, when a dataset is missing or malformed.
        ValueError: the ``answers`` suite was asked for without an `ask_factory`.
    """
    if "answers" in config.suites and ask_factory is None:
        raise ValueError("the answers suite needs ask_factory (runtime -> ask(question, groups)); the CLI passes it")
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
                suites["answers"] = _answers_suite(native, loaded.native["retrieval"], config, ask_factory)
        if loaded.prompts is not None:
            if route_factory is None:
                route_factory = _route_text
            sets = {name: ds.sample(p, config.limit, config.seed) for name, p in loaded.prompt_sets.items()}
            if config.progress:
                config.progress("routing: " + ", ".join(f"{n} {len(p)} prompts" for n, p in sets.items()))
                for name, note in loaded.skipped_sets.items():
                    config.progress(f"routing: set {name} {note}")
            suites["routing"] = evaluate_routing_sets(sets, route_factory(native), loaded.skipped_sets)
            suites["routing"]["context"] = _context_sets(runtime_factory, Path(work), native, config)
        if loaded.external is not None:
            ext = loaded.external
            runtime = _runtime(runtime_factory, Path(work) / ext.name, native)
            info = ingest(runtime, ext, Path(work), config.progress)
            suites[ext.name] = _retrieval_suite(runtime, ext, config, info)
            if "answers" in config.suites:
                suites[f"{ext.name}-answers"] = _answers_suite(runtime, ext, config, ask_factory)
    return {"suites": suites, "config": _config_view(config)}


def _context_sets(factory: RuntimeFactory, work: Path, shared: Any, config: EvalConfig) -> dict[str, Any]:
    """Per context set: its corpus ingested into a home of its own, each benign question planned (retrieval
    and routing, nothing generated); a question counts as kept off the server when its plan's level is at or
    above the policy's sensitive level (the route then never is the server, whatever the backends' health)."""
    out: dict[str, Any] = {}
    for name, (corpus, questions_file) in CONTEXT_SETS.items():
        corpus_dir, path = config.data_dir / corpus, config.data_dir / questions_file
        if not (corpus_dir.is_dir() and path.is_file()):
            out[name] = {"skipped": f"{corpus} or {questions_file} not found"}
            continue
        questions = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if config.progress:
            config.progress(f"routing: context set {name}, {len(questions)} questions over {corpus}")
        runtime = _runtime(factory, work / f"context-{name}", shared)
        runtime.ingestor.ingest_paths([corpus_dir])
        plans = [runtime.plan_question(q["question"], tuple(q.get("groups") or ("all",))) for q in questions]
        sensitive = runtime.policy.sensitive_level
        kept = [Level.parse(p.level) >= sensitive for p in plans]
        out[name] = {"questions": len(plans), "kept_local": sum(kept), "kept_local_rate": sum(kept) / max(1, len(plans)),
                     "routes": {r: sum(p.route == r for p in plans) for r in ("local", "server", "refuse")},
                     "leaked_ids": [q["id"] for q, k in zip(questions, kept) if not k]}
    return out


def _route_text(runtime: Any) -> Callable[[str], Any]:
    """The routing suite's `route(text) -> decision`: the runtime's `route_text` (a protocol, no rag import)."""
    return runtime.route_text


def _config_view(config: EvalConfig) -> dict[str, Any]:
    view = {k: v for k, v in vars(config).items() if k not in ("extra", "progress")}
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in view.items()}
