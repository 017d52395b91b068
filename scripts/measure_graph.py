"""Measure the knowledge graph: ingestion time with vs without graph extraction, and multi-hop recall@k of
hybrid search vs hybrid + graph (weighted RRF), on data/corpus and data/evals/multihop.jsonl.

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS= \
        .venv/bin/python scripts/measure_graph.py --work /tmp/kg-measure [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from pathlib import Path

from indexing.embedder import SentenceTransformerEmbedder
from indexing.ingest import Ingestor
from indexing.search import HybridSearcher
from indexing.store import IndexStore
from knowledge_graph.store import KnowledgeGraph
from routing.detect import PresidioDetector

ROOT = Path(__file__).resolve().parent.parent


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def ingest(work: Path, name: str, embedder, detector, with_graph: bool, corpus: Path):
    shutil.rmtree(work / name, ignore_errors=True)
    store = IndexStore(work / name, dim=embedder.dim)
    kg = KnowledgeGraph(store, nlp=detector.nlp) if with_graph else None
    ingestor = Ingestor(store, embedder, labeler=detector.label_texts, listeners=[kg] if kg else [])
    started = time.perf_counter()
    report = ingestor.ingest_paths([corpus])
    return store, kg, time.perf_counter() - started, report.timings


def found(hits, relevant) -> list[bool]:
    out = []
    for item in relevant:
        evidence = _norm(item["evidence"])
        out.append(any(h.source == item["doc"] and evidence in _norm(h.text) for h in hits))
    return out


def evaluate(store, kg, embedder, questions, k: int, graph_weight: float, seeded: bool) -> dict:
    searcher = HybridSearcher(store, embedder, weights={"dense": 1.0, "bm25": 1.0, "graph": graph_weight})
    results = {"hybrid": [], "hybrid+graph": [], "graph": []}
    for q in questions:
        groups = q.get("groups")
        ranked = searcher.candidates(q["question"], groups, 50)
        hybrid = searcher.fuse(ranked, k)
        seeds = [h.chunk_id for h in hybrid] if seeded else ()
        graph_hits = kg.search(q["question"], groups=groups, k=50, seed_chunks=seeds)
        rowids = store.rowids_for([h.chunk_id for h in graph_hits])
        ranked["graph"] = [(rowids[h.chunk_id], h.score) for h in graph_hits if h.chunk_id in rowids]
        fused = searcher.fuse(ranked, k)
        graph_only = searcher._single("graph", ranked["graph"][:k])
        for name, hits in (("hybrid", hybrid), ("hybrid+graph", fused), ("graph", graph_only)):
            results[name].append(found(hits, q["relevant"]))
    summary = {}
    for name, rows in results.items():
        summary[name] = {"recall": round(sum(sum(r) / len(r) for r in rows) / len(rows), 4),
                         "all_hops_found": round(sum(all(r) for r in rows) / len(rows), 4)}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/kg-measure"))
    parser.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus")
    parser.add_argument("--evals", type=Path, default=ROOT / "data" / "evals" / "multihop.jsonl")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--graph-weight", type=float, default=0.5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--reuse", action="store_true", help="Evaluate the index already in WORK/graph.")
    args = parser.parse_args()
    embedder = SentenceTransformerEmbedder()
    embedder.warm_up()
    detector = PresidioDetector.from_yaml(ROOT / "routing" / "recognizers.yaml")
    detector.warm_up()
    if args.reuse:
        store = IndexStore(args.work / "graph", dim=embedder.dim)
        kg, plain_s, plain_t, graph_s, graph_t = KnowledgeGraph(store, nlp=detector.nlp), 1.0, {}, 1.0, {}
    else:
        _, _, plain_s, plain_t = ingest(args.work, "plain", embedder, detector, False, args.corpus)
        store, kg, graph_s, graph_t = ingest(args.work, "graph", embedder, detector, True, args.corpus)
    questions = [json.loads(line) for line in args.evals.read_text().splitlines() if line.strip()]
    out = {"ingest_without_graph_s": round(plain_s, 2), "ingest_with_graph_s": round(graph_s, 2),
           "ratio": round(graph_s / plain_s, 3), "graph_prepare_s": round(graph_t.get("prepare", 0.0), 2),
           "timings_without": {k: round(v, 2) for k, v in plain_t.items()},
           "timings_with": {k: round(v, 2) for k, v in graph_t.items()},
           "graph": {k: v for k, v in kg.stats().items() if k in ("nodes", "edges", "relation_edges", "docs_covered")},
           "questions": len(questions), "k": args.k,
           "multihop_query_entities_only": evaluate(store, kg, embedder, questions, args.k, args.graph_weight, False),
           "multihop_seeded_by_hybrid": evaluate(store, kg, embedder, questions, args.k, args.graph_weight, True)}
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
