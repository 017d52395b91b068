"""Measure graph-augmented retrieval: recall@k and MRR@10 of mode "hybrid" vs "all" (hybrid + the graph's
second hop) through `rag.retriever.Retriever`, on data/evals/multihop.jsonl and data/evals/retrieval.jsonl;
optionally the ingestion time with vs without graph extraction.

A question's relevant items are its (doc, evidence) pairs; an item is found when a hit of that document
(`source`) contains the whitespace-normalised evidence. recall@k = mean over questions of the fraction of
items found in the top k (searching with k); MRR@10 = mean of 1 / rank of the first item found (k=10).

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python scripts/measure_graph.py --work /tmp/kg-measure
    ... --reuse          # evaluate the index already in WORK/index (ingest once, measure many times)
    ... --detect         # label chunks with Presidio while ingesting (slower; labels do not affect ranking)
    ... --compare-ingest # also ingest without the graph, to time extraction
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

from indexing.embedder import SentenceTransformerEmbedder  # noqa: E402
from indexing.ingest import Ingestor  # noqa: E402
from indexing.search import HybridSearcher  # noqa: E402
from indexing.store import IndexStore  # noqa: E402
from knowledge_graph.store import KnowledgeGraph  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.retriever import Retriever  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EVALS = ROOT / "data" / "evals"


def _norm(text: str) -> str:
    return " ".join(text.split())


def ingest(index_dir: Path, settings: Settings, embedder, nlp, labeler, with_graph: bool):
    """A fresh index of the corpus; returns (store, graph or None, seconds, stage timings)."""
    shutil.rmtree(index_dir, ignore_errors=True)
    store = IndexStore(index_dir, dim=embedder.dim)
    kg = KnowledgeGraph(store, nlp=nlp, catalog_path=settings.graph_entities_path) if with_graph else None
    ingestor = Ingestor(store, embedder, labeler=labeler, listeners=[kg] if kg else [],
                        chunk_max_tokens=settings.chunk_max_tokens, chunk_overlap_tokens=settings.chunk_overlap_tokens,
                        default_groups=settings.default_groups, default_classification=settings.default_classification)
    started = time.perf_counter()
    report = ingestor.ingest_paths([settings.corpus_dir])
    return store, kg, time.perf_counter() - started, report.timings


def ranks(hits, question: dict) -> list[int | None]:
    """1-based rank of the first hit holding each relevant (doc, evidence) item, None when absent."""
    out = []
    for item in question["relevant"]:
        evidence = _norm(item["evidence"])
        out.append(next((i for i, h in enumerate(hits, 1) if h.source == item["doc"] and evidence in _norm(h.text)),
                        None))
    return out


def evaluate(retriever: Retriever, questions: list[dict], mode: str, k: int) -> dict:
    """recall@k, all-items-found@k and MRR@10 of one mode (each question searched with k and with 10)."""
    recall = complete = mrr = 0.0
    started = time.perf_counter()
    for q in questions:
        found = ranks(retriever.search(q["question"], groups=q.get("groups"), k=k, mode=mode), q)
        recall += sum(r is not None for r in found) / len(found)
        complete += all(r is not None for r in found)
        first = min((r for r in ranks(retriever.search(q["question"], groups=q.get("groups"), k=10, mode=mode), q)
                     if r is not None), default=None)
        mrr += 1 / first if first else 0.0
    n = len(questions)
    return {f"recall@{k}": round(recall / n, 4), f"all_found@{k}": round(complete / n, 4),
            "mrr@10": round(mrr / n, 4), "ms_per_query": round((time.perf_counter() - started) / n / 2 * 1000, 1)}


def _load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/kg-measure"))
    parser.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus")
    parser.add_argument("--multihop", type=Path, default=EVALS / "multihop.jsonl")
    parser.add_argument("--single", type=Path, default=EVALS / "retrieval.jsonl")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="Evaluate the index already in WORK/index.")
    parser.add_argument("--detect", action="store_true", help="Label chunks with Presidio while ingesting.")
    parser.add_argument("--compare-ingest", action="store_true", help="Also ingest without the graph (timing).")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    settings = Settings(corpus_dir=args.corpus, ingest_detect=args.detect)
    embedder = SentenceTransformerEmbedder(settings.embedding_model_path)
    embedder.warm_up()
    import spacy

    nlp, labeler = spacy.load(settings.spacy_model), None
    if args.detect:
        from routing.detect import PresidioDetector

        detector = PresidioDetector.from_yaml(settings.recognizers_path, spacy_model=settings.spacy_model)
        detector.warm_up()
        nlp, labeler = detector.nlp, detector.label_texts
    out: dict = {}
    if args.reuse:
        store = IndexStore(args.work / "index", dim=embedder.dim)
        kg = KnowledgeGraph(store, nlp=nlp, catalog_path=settings.graph_entities_path)
    else:
        store, kg, seconds, timings = ingest(args.work / "index", settings, embedder, nlp, labeler, True)
        out["ingest_with_graph_s"] = round(seconds, 2)
        out["timings_with_graph"] = {name: round(v, 2) for name, v in timings.items()}
        if args.compare_ingest:
            _, _, plain, _ = ingest(args.work / "plain", settings, embedder, nlp, labeler, False)
            out["ingest_without_graph_s"], out["ratio"] = round(plain, 2), round(seconds / plain, 3)
    out["graph"] = {k: v for k, v in kg.stats().items() if k in ("nodes", "edges", "relation_edges", "docs_covered")}
    searcher = HybridSearcher(store, embedder, rrf_k=settings.rrf_k, weights=settings.fusion_weights,
                              candidate_pool=settings.candidate_pool)
    retriever = Retriever(searcher, kg, candidate_pool=settings.candidate_pool, protected_hits=settings.graph_protected_hits,
                          first_hop=settings.graph_first_hop, bridge_candidates=settings.graph_bridge_candidates)
    for name, path in (("multihop", args.multihop), ("single_hop", args.single)):
        questions = _load(path)
        out[name] = {"questions": len(questions),
                     **{mode: evaluate(retriever, questions, mode, args.k) for mode in ("hybrid", "all")}}
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
