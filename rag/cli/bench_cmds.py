"""`rag bench ...`: throughput of our components against the raw libraries they wrap.

This module owns the `bench` group and `bench ingest`; `bench generate` lives in `rag.cli.bench_generate`.

`bench ingest` ingests the corpus into fresh temporary indexes and reports chunks/s for the whole ingest
(read + load + chunk + embed + store), first plain, then with the sensitivity labeler, then with the
knowledge graph too (embedding on a second thread while labelling runs; one spaCy parse of each passage
feeds Presidio and the graph), optionally (`--ablation`) the +graph run without that overlap, with two
parses (the graph parsing chunk text again) and without the personal-matter classifier, and in the same run the raw
`SentenceTransformer.encode` throughput on exactly the texts our ingest embeds (same batch size). Raw encode
is timed before and after the plain ingest and averaged, so load from other processes on a shared machine
hits both sides alike. The model is loaded and warmed before any timing.
"""
from __future__ import annotations

import resource
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import click

from rag.cli import common

@click.group("bench")
def bench_group() -> None:
    """Measure throughput of our components against the raw libraries."""


@bench_group.command("ingest")
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder to ingest [default: settings.corpus_dir].")
@click.option("--plain-only", is_flag=True, help="Skip the +detection and +graph runs.")
@click.option("--copies", default=1, show_default=True, type=click.IntRange(min=1),
              help="Ingest this many copies of the corpus (a larger corpus, under distinct paths).")
@click.option("--ablation", is_flag=True, help="Also +detection +graph without overlap (embedding on the same thread), "
              "with two parses (labels and graph each parse), with the classifier's E5 on one engine, and "
              "without the personal-matter classifier.")
@click.option("--tracemalloc", "trace", is_flag=True, help="Also measure the Python heap peak (an extra, untimed run).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_ingest_cmd(corpus: Path | None, plain_only: bool, copies: int, ablation: bool, trace: bool,
                     as_json: bool) -> None:
    """Chunks/s of `rag ingest` (plain, +detection, +graph) vs raw SentenceTransformer.encode."""
    with tempfile.TemporaryDirectory(prefix="rag-bench-corpus-") as tmp:
        source = corpus or common.settings().corpus_dir
        _bench_ingest(_replicate(source, Path(tmp), copies) if copies > 1 else source, plain_only, ablation, trace,
                      as_json)


def _replicate(corpus: Path, tmp: Path, copies: int) -> Path:
    """`copies` copies of `corpus` side by side under tmp/corpus/copy-NN (manifests left out: default access)."""
    import shutil

    from indexing.manifest import MANIFEST_NAMES

    root = tmp / "corpus"
    for i in range(copies):
        shutil.copytree(corpus, root / f"copy-{i:02d}", ignore=shutil.ignore_patterns(*MANIFEST_NAMES))
    return root


def _bench_ingest(corpus: Path, plain_only: bool, ablation: bool, trace: bool, as_json: bool) -> None:
    from rag.runtime import Runtime

    settings = common.settings()
    runtime = Runtime(settings)
    embedder = runtime.embedder
    texts = _embedded_texts(corpus, embedder, settings)
    if not texts:
        common.fail(f"{corpus} has no ingestible files", 2)
    embedder.warm_up()
    _raw_encode(embedder, texts[: embedder.batch_size])  # warm the kernels on real shapes
    raw_before = _raw_encode(embedder, texts)
    runs = {"plain": _timed_ingest(runtime, corpus, labeler=None, listeners=())}
    raw_after = _raw_encode(embedder, texts)
    raw_s = (raw_before + raw_after) / 2
    if not plain_only:
        runs.update(_optional_runs(runtime, corpus, ablation))
    report = _report(corpus, embedder, texts, runs, raw_s, (raw_before, raw_after))
    if trace:
        report["python_peak_mib"] = _python_peak(runtime, corpus)
    common.emit(report, as_json, _report_text(report))


def _embedded_texts(corpus: Path, embedder: Any, settings: Any) -> list[str]:
    """Exactly the texts an ingest of `corpus` embeds (same loader, chunker and embedding prefix)."""
    from indexing.chunking import chunk_document, embedding_text
    from indexing.errors import LoaderError
    from indexing.ingest import doc_id_for, expand_paths
    from indexing.loaders import load_file

    texts = []
    for path, source, _ in expand_paths([corpus]):
        try:
            document = load_file(path, settings.max_file_bytes, source=source)
        except LoaderError:
            continue
        chunks = chunk_document(doc_id_for(source), document, embedder.count_tokens,
                                settings.chunk_max_tokens, settings.chunk_overlap_tokens)
        texts += [embedding_text(c, document.title) for c in chunks]
    return texts


def _raw_encode(embedder: Any, texts: list[str]) -> float:
    started = time.perf_counter()
    embedder.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True,
                          convert_to_numpy=True, show_progress_bar=False)
    return time.perf_counter() - started


def _timed_ingest(runtime: Any, corpus: Path, labeler: Callable | None, listeners: Any,
                  overlap: bool = True) -> dict:
    """Ingest `corpus` into a fresh temporary index with the given labeler/listeners; seconds and counts."""
    from indexing.ingest import Ingestor
    from indexing.store import IndexStore

    settings = runtime.settings
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        store = IndexStore(Path(tmp) / "index", dim=runtime.embedder.dim)
        listeners = [factory(store) for factory in listeners]
        ingestor = Ingestor(store, runtime.embedder, labeler=labeler, listeners=listeners,
                            max_file_bytes=settings.max_file_bytes, chunk_max_tokens=settings.chunk_max_tokens,
                            chunk_overlap_tokens=settings.chunk_overlap_tokens,
                            default_groups=settings.default_groups,
                            default_classification=settings.default_classification,
                            embed_batch_chunks=settings.ingest_batch_chunks, overlap=overlap)
        started = time.perf_counter()
        report = ingestor.ingest_paths([corpus])
        seconds = time.perf_counter() - started
        store.close()
    return {"seconds": seconds, "chunks": report.chunks_written, "documents": len(report.results),
            "refused": len(report.refused), "stages": {k: round(v, 3) for k, v in report.timings.items()}}


def _optional_runs(runtime: Any, corpus: Path, ablation: bool = False) -> dict:
    """The +detection and +detection +graph runs (and, with `ablation`, the latter's variants).

    Labels are of passages ("title: text"), as the real ingest labels them (`rag.labelling.chunk_labeler`).
    """
    from rag.labelling import chunk_labeler

    runs: dict[str, Any] = {}
    detector = runtime.detector
    detector.label_texts(["warm up the pipeline"])
    labeler = chunk_labeler(detector)
    runs["+detection"] = _timed_ingest(runtime, corpus, labeler, ())

    def graph_of(nlp: Any) -> Callable:
        return lambda store: runtime.graph_over(store, nlp=nlp)  # the labeller's pipeline: its parses serve

    graph = graph_of(detector.nlp)
    runs["+detection +graph"] = _timed_ingest(runtime, corpus, labeler, (graph,))
    if ablation:
        runs["+det +graph, no overlap"] = _timed_ingest(runtime, corpus, labeler, (graph,), overlap=False)
        runs["+det +graph, two parses"] = _timed_ingest(runtime, corpus, _PlainLabeler(labeler), (graph,))
        single = _one_e5_engine(runtime)
        runs["+det +graph, one E5 engine"] = _timed_ingest(runtime, corpus, chunk_labeler(single),
                                                           (graph_of(single.nlp),))
        lean = _no_classifier(runtime)
        runs["+det -classifier +graph"] = _timed_ingest(runtime, corpus, chunk_labeler(lean), (graph_of(lean.nlp),))
    return runs


class _PlainLabeler:
    """The labeller without `label_parsed`: the graph parses chunk text again (the path before one parse)."""

    def __init__(self, labeler: Callable) -> None:
        self.labeler = labeler

    def __call__(self, texts: list[str]) -> list:
        return self.labeler(texts)


def _one_e5_engine(runtime: Any) -> Any:
    """The detector with its classifier's E5 batches on one engine (not split over
    `classifier_embedding_engines`): shows what the split gains."""
    from rag.runtime import build_detector

    detector = build_detector(runtime.settings.model_copy(update={"classifier_embedding_engines": 1}))
    detector.label_texts(["warm up the pipeline"])
    return detector


def _no_classifier(runtime: Any) -> Any:
    """The detector without the personal-matter classifier (its sentence embeddings are most of the label
    time): shows what the classifier costs. Not a configuration to run: it detects less."""
    from routing.detect import PresidioDetector

    s = runtime.settings
    detector = PresidioDetector.from_yaml(s.recognizers_path, spacy_model=s.spacy_model, embed=None)
    detector.label_texts(["warm up the pipeline"])
    return detector


def _python_peak(runtime: Any, corpus: Path) -> float:
    tracemalloc.start()
    try:
        _timed_ingest(runtime, corpus, labeler=None, listeners=())
        return round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    finally:
        tracemalloc.stop()


def _report(corpus: Path, embedder: Any, texts: list[str], runs: dict, raw_s: float, raw_pair: tuple) -> dict:
    raw_cps = len(texts) / raw_s
    for run in runs.values():
        if "seconds" in run:
            run["chunks_per_s"] = round(run["chunks"] / run["seconds"], 2)
            run["ratio_to_raw"] = round(run["chunks_per_s"] / raw_cps, 3)
    return {"corpus": str(corpus), "model": embedder.name, "batch_size": embedder.batch_size,
            "chunks": len(texts),
            "raw_encode": {"seconds": round(raw_s, 3), "chunks_per_s": round(raw_cps, 2),
                           "before_s": round(raw_pair[0], 3), "after_s": round(raw_pair[1], 3)},
            "runs": runs, "ratio_plain_to_raw": runs["plain"]["ratio_to_raw"],
            "ratio_labels_graph_to_raw": runs.get("+detection +graph", {}).get("ratio_to_raw"),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _report_text(report: dict) -> str:
    raw = report["raw_encode"]
    lines = [f"corpus {report['corpus']}: {report['chunks']} chunks, model {report['model']}, "
             f"batch {report['batch_size']}",
             f"raw SentenceTransformer.encode   {raw['chunks_per_s']:8.1f} chunks/s  "
             f"({raw['before_s']:.1f}s before, {raw['after_s']:.1f}s after)"]
    for name, run in report["runs"].items():
        if "skipped" in run:
            lines.append(f"ingest {name:<24} skipped: {run['skipped']}")
            continue
        lines.append(f"ingest {name:<24} {run['chunks_per_s']:8.1f} chunks/s  ({run['seconds']:.1f}s, "
                     f"{run['chunks']} chunks, ratio to raw {run['ratio_to_raw']:.2f})")
        stages = run.get("stages", {})
        lines.append("       stages (s): " + ", ".join(f"{k} {stages[k]:.1f}" for k in
                                                      ("label", "prepare", "embed", "embed_wait", "write") if k in stages))
    lines.append(f"ratio plain ingest / raw encode: {report['ratio_plain_to_raw']:.2f} (target >= 0.8)")
    if report.get("ratio_labels_graph_to_raw") is not None:
        lines.append(f"ratio ingest with labels and graph / raw encode: {report['ratio_labels_graph_to_raw']:.2f} "
                     "(target >= 0.7)")
    lines.append(f"peak RSS {report['peak_rss_mib']} MiB"
                 + (f", Python heap peak {report['python_peak_mib']} MiB" if "python_peak_mib" in report else ""))
    return "\n".join(lines)


def register(cli: click.Group) -> None:
    """Add the `bench` group (`ingest`, `generate`) to `rag`."""
    from rag.cli import bench_generate, bench_query, bench_serve

    bench_generate.register(bench_group)
    bench_query.register(bench_group)
    bench_serve.register(bench_group)
    cli.add_command(bench_group)
