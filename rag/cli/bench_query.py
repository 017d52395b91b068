"""`rag bench query`: latency of each query stage before generation, at several corpus sizes, with and
without an ACL filter that hides 90% of the chunks; and recall@10 of the approximate FAISS index.

Corpora are synthetic (`bench_corpus`: clustered random embeddings, pseudo-word texts, a graph), written
through the real store and graph. Detection runs on the query path's detector (`Runtime.query_detector`: the
worker-process pool, or in-process with RAG_DETECTION_WORKERS=0); passages' stored labels are taken as
current. Stages: `retrieve` per mode (the question is embedded by the real model), `detect` (the question
alone: `Router.evidence`), `route` (prompt assembly and `Router.route` on that evidence: token count and the
policy, both backends up). Then the whole path before generation, each as the wall time of one real call:
`before_generation` = `rag.assistant.retrieve_and_route` as the assistant runs it (the question is embedded
once; its detection starts first and overlaps retrieval), `route_after_retrieval` its part after retrieval (what is left of
detection, then the policy), and `before_generation_sequential` = the former order (retrieve, then detect,
then route), alternating which of the two runs first. The CPU column is the calling thread's: detection
runs in a worker process or on a thread (read its wall time). recall@10: the index the store uses (IVF from
`--ann-threshold` chunks on) against an exact flat index over the same vectors, for queries near the
clusters, with and without the ACL filter.
"""
from __future__ import annotations

import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import click
import numpy as np

from rag.cli import common

ACL_GROUPS = ("g0",)  # documents are spread over g0..g9: one group reads 10% of the chunks


@click.command("query")
@click.option("--sizes", default="1000,10000,100000", show_default=True, help="Comma-separated corpus sizes.")
@click.option("--queries", "n_queries", default=40, show_default=True, help="Timed questions per size and filter.")
@click.option("--modes", default="dense,bm25,hybrid,graph,all", show_default=True, help="Retrieval modes to time.")
@click.option("--ann-threshold", type=int, default=None, help="Chunks from which FAISS is IVF [settings].")
@click.option("--nprobe", type=int, default=None, help="IVF lists probed per query [settings].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_query_cmd(sizes: str, n_queries: int, modes: str, ann_threshold: int | None, nprobe: int | None,
                    as_json: bool) -> None:
    """p50/p95 of retrieve (per mode), detect and route at each corpus size, ACL off and on; ANN recall@10."""
    from rag.runtime import Runtime

    settings = common.settings()
    runtime = Runtime(settings)
    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        common.fail(f"--sizes must be integers, e.g. 1000,10000; got {sizes!r}")
        return
    mode_list = [m.strip() for m in modes.split(",") if m.strip()]
    threshold = ann_threshold if ann_threshold is not None else settings.ann_threshold_chunks
    probes = nprobe if nprobe is not None else settings.ann_nprobe
    from rag.runtime import use_compute_threads

    use_compute_threads(settings.api_compute_threads)  # as the API process does
    runtime.embedder.warm_up()
    runtime.detector.warm_up()
    runtime.query_detector.warm_up()
    report: dict[str, Any] = {"synthetic_embeddings": True, "ann_threshold": threshold, "nprobe": probes,
                              "compute_threads": settings.api_compute_threads,
                              "detector": _detector_kind(runtime),
                              "default_mode": settings.search_mode, "sizes": {}}
    try:
        for size in size_list:
            with tempfile.TemporaryDirectory(prefix="rag-bench-query-") as tmp:
                report["sizes"][str(size)] = _bench_size(runtime, Path(tmp), size, n_queries, mode_list, threshold,
                                                         probes)
            if not as_json:
                click.echo(_size_text(size, report["sizes"][str(size)]))
    finally:
        runtime.close()
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    if as_json:
        common.emit(report, True)
    else:
        click.echo(f"peak RSS {report['peak_rss_mib']} MiB; load average {report['load_average_1m_end']} at the end "
                   f"(embeddings synthetic: clustered random vectors; torch/FAISS threads {settings.api_compute_threads}; "
                   f"detection: {report['detector']})")


def _detector_kind(runtime: Any) -> str:
    pool = runtime.query_detector
    workers = getattr(pool, "size", None)
    return f"{workers} worker processes" if workers else "in-process (a thread)"


def _bench_size(runtime: Any, tmp: Path, size: int, n_queries: int, modes: list[str], threshold: int,
                nprobe: int) -> dict:
    from indexing.search import HybridSearcher
    from rag.cli import bench_corpus
    from rag.retriever import Retriever

    s = runtime.settings
    corpus = bench_corpus.build(tmp / "index", size, runtime.embedder.dim, nlp=runtime.detector.nlp,
                                approx_threshold=threshold, nprobe=nprobe)
    searcher = HybridSearcher(corpus.store, runtime.embedder, rrf_k=s.rrf_k, weights=s.fusion_weights,
                              candidate_pool=s.candidate_pool)
    retriever = Retriever(searcher, corpus.graph, candidate_pool=s.candidate_pool,
                          protected_hits=s.graph_protected_hits, first_hop=s.graph_first_hop,
                          bridge_candidates=s.graph_bridge_candidates)
    questions = bench_corpus.questions(corpus, n_queries)
    out: dict[str, Any] = {"chunks": size, "build_s": round(corpus.build_s, 1), "load_average_1m": os.getloadavg()[0],
                           "faiss_kind": corpus.store.stats()["faiss_kind"], "acl": {}}
    for label, groups in (("off", None), ("on_10pct", ACL_GROUPS)):
        for q in questions[:3]:  # warm caches (ACL bitmap, graph, FTS pages) untimed
            retriever.search(q, groups=groups, k=s.top_k, mode=s.search_mode)
        out["acl"][label] = _stages(runtime, retriever, questions, groups, modes)
    out["recall_at_10"] = _recall(corpus, nprobe)
    corpus.store.close()
    return out


def _stages(runtime: Any, retriever: Any, questions: list[str], groups: Any, modes: list[str]) -> dict:
    """Wall time of each stage, and the CPU time this thread spent on it (what an idle machine would take:
    with one compute thread, torch and FAISS run on the calling thread)."""
    from indexing.types import passage_text
    from rag.assistant import build_messages, retrieve_and_route
    from routing.levels import Level
    from routing.router import ContextItem, RouteRequest, Router

    s = runtime.settings
    router = Router(runtime.query_detector, runtime.policy, lambda: {"local": True, "server": True},
                    timeout_s=s.detection_timeout_s)
    wall: dict[str, list[float]] = {f"retrieve_{m}": [] for m in modes}
    wall.update(detect=[], route=[], before_generation_sequential=[], before_generation=[], route_after_retrieval=[])
    cpu: dict[str, list[float]] = {k: [] for k in wall}

    def timed(stage: str, fn: Callable[[], Any]) -> Any:
        w, c = time.perf_counter(), time.thread_time()
        result = fn()
        wall[stage].append(time.perf_counter() - w)
        cpu[stage].append(time.thread_time() - c)
        return result

    def current(hit: Any) -> ContextItem:  # stored labels taken as current: no passage is analysed again
        return ContextItem(hit.chunk_id, passage_text(hit.title, hit.text), Level(hit.label), ())

    def sequential(question: str) -> None:  # the order before detection overlapped retrieval
        hits = retriever.search(question, groups=groups, k=s.top_k, mode=s.search_mode)
        router.route(RouteRequest((question,), tuple(build_messages(question, [], hits)),
                                  tuple(current(h) for h in hits)))

    def overlapped(question: str) -> None:
        latencies: dict[str, float] = {}
        retrieve_and_route(retriever, router, question, [], groups, k=s.top_k, mode=s.search_mode,
                           context_item=current, latencies=latencies)
        wall["route_after_retrieval"].append(latencies["route"])

    for n, question in enumerate(questions):
        hits: list = []
        for mode in modes:
            found = timed(f"retrieve_{mode}", lambda: retriever.search(question, groups=groups, k=s.top_k, mode=mode))
            hits = found if mode == s.search_mode else hits
        request = RouteRequest((question,), tuple(build_messages(question, [], hits)), tuple(current(h) for h in hits))
        evidence = timed("detect", lambda: router.evidence(request))
        timed("route", lambda: router.route(RouteRequest((question,), tuple(build_messages(question, [], hits)),
                                                         request.context), evidence=evidence))
        paths = [("before_generation_sequential", sequential), ("before_generation", overlapped)]
        for stage, path in paths[::1 if n % 2 else -1]:  # alternate which runs first
            timed(stage, lambda: path(question))
    return {stage: {**_percentiles(values), "cpu_p50_ms": _percentiles(cpu[stage]).get("p50_ms")}
            for stage, values in wall.items()}


def _recall(corpus: Any, nprobe: int, n: int = 200, k: int = 10) -> dict:
    """recall@k of the store's FAISS index against exact search over the same vectors (ACL off and on)."""
    from indexing.faiss_index import FaissIndex, IdFilter

    store = corpus.store
    dense = store._dense()  # noqa: SLF001 - the bench compares the store's own index
    ids = dense.ids()
    rows = store.conn.execute("SELECT id, embedding FROM chunks ORDER BY id").fetchall()
    vectors = np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
    exact = FaissIndex.build(store.dim, [r[0] for r in rows], vectors, approx_threshold=len(rows) + 1)
    rng = np.random.default_rng(7)
    queries, _ = _near_clusters(corpus.centres, n, store.dim, rng)
    allowed = store.allowed_filter(ACL_GROUPS)
    out = {"kind": dense.kind, "vectors": int(len(ids))}
    for label, filt in (("off", None), ("on_10pct", allowed)):
        hit, total, seconds = 0, 0, 0.0
        for q in queries:
            truth = {i for i, _ in exact.search(q, k, filt)}
            t0 = time.perf_counter()
            found = {i for i, _ in dense.search(q, k, filt)}
            seconds += time.perf_counter() - t0
            hit += len(truth & found)
            total += len(truth)
        out[label] = {"recall": round(hit / total, 4) if total else None,
                      "mean_ms": round(1000 * seconds / len(queries), 3)}
    return out


def _near_clusters(centres: np.ndarray, n: int, dim: int, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
    from rag.cli.bench_corpus import clustered_vectors

    return clustered_vectors(n, dim, centres, rng)


def _percentiles(values: list[float]) -> dict:
    ms = sorted(v * 1000 for v in values)
    if not ms:
        return {}
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return {"p50_ms": round(statistics.median(ms), 2), "p95_ms": round(p95, 2), "n": len(ms)}


def _size_text(size: int, result: dict) -> str:
    lines = [f"== {size} chunks (FAISS {result['faiss_kind']}, built in {result['build_s']}s; "
             f"load average {result['load_average_1m']:.1f}) =="]
    for label, stages in result["acl"].items():
        lines.append(f"  ACL {label}:")
        for stage, p in stages.items():
            cpu = f"(CPU p50 {p['cpu_p50_ms']:7.2f} ms)" if p.get("cpu_p50_ms") is not None else ""
            lines.append(f"    {stage:<28} p50 {p['p50_ms']:8.2f} ms   p95 {p['p95_ms']:8.2f} ms   {cpu}")
        seq, over = stages["before_generation_sequential"]["p50_ms"], stages["before_generation"]["p50_ms"]
        lines.append(f"    before generation p50: former order {seq:.1f} ms -> overlapped, question embedded once "
                     f"{over:.1f} ms ({over / seq:.2f}x)")
    r = result["recall_at_10"]
    lines.append(f"  FAISS {r['kind']} recall@10 vs exact: ACL off {r['off']['recall']} ({r['off']['mean_ms']} ms), "
                 f"ACL on {r['on_10pct']['recall']} ({r['on_10pct']['mean_ms']} ms)")
    return "\n".join(lines)


def register(group: click.Group) -> None:
    """Add `bench query` to the bench group."""
    group.add_command(bench_query_cmd)
