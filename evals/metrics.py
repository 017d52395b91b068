"""Evaluation metrics, pure functions over plain values.

Retrieval metrics take, per query, the graded relevance judgements (`qrels`: item id -> gain, only
gains > 0 count as relevant) and the ranked item ids the system returned. They follow the
definitions of `ranx` (and trec_eval): recall@k = relevant items in the top k / all relevant items;
MRR@k = 1 / rank of the first relevant item within k (0 if none); nDCG@k with linear gains
(gain / log2(rank + 1), the Järvelin-Kekäläinen form ranx calls ``ndcg``); hit@k = 1 if any relevant
item is in the top k. Means are taken over queries that have at least one relevant item.

Answer metrics follow the official SQuAD evaluation script: lowercase, strip punctuation and the
articles a/an/the, collapse whitespace; exact match and token F1 are the maximum over gold answers.
"""
from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

Qrels = Mapping[str, int]
"""Relevance judgements of one query: item id -> gain (> 0 means relevant)."""


# --- retrieval ---------------------------------------------------------------------------------
def _relevant(qrels: Qrels) -> dict[str, int]:
    return {item: gain for item, gain in qrels.items() if gain > 0}


def recall_at_k(qrels: Qrels, ranking: Sequence[str], k: int) -> float:
    """Share of the relevant items found in the first `k` of `ranking` (0.0 when none is relevant)."""
    relevant = _relevant(qrels)
    if not relevant:
        return 0.0
    return len(relevant.keys() & set(ranking[:k])) / len(relevant)


def mrr_at_k(qrels: Qrels, ranking: Sequence[str], k: int = 10) -> float:
    """Reciprocal rank of the first relevant item within the first `k` (0.0 when there is none)."""
    relevant = _relevant(qrels)
    for rank, item in enumerate(ranking[:k], start=1):
        if item in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(qrels: Qrels, ranking: Sequence[str], k: int = 10) -> float:
    """Normalised discounted cumulative gain at `k` with linear (graded or binary) gains."""
    relevant = _relevant(qrels)
    if not relevant:
        return 0.0
    dcg = sum(relevant.get(item, 0) / math.log2(rank + 1) for rank, item in enumerate(ranking[:k], start=1))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(ideal, start=1))
    return dcg / idcg


def hit_at_k(qrels: Qrels, ranking: Sequence[str], k: int) -> float:
    """1.0 when any relevant item is in the first `k` of `ranking`, else 0.0."""
    relevant = _relevant(qrels)
    return 1.0 if any(item in relevant for item in ranking[:k]) else 0.0


def complete_at_k(qrels: Qrels, ranking: Sequence[str], k: int) -> float:
    """1.0 when every relevant item is in the first `k` (multi-hop: all evidence retrieved), else 0.0."""
    relevant = _relevant(qrels)
    return 1.0 if relevant and relevant.keys() <= set(ranking[:k]) else 0.0


RETRIEVAL_METRICS = {
    "recall@5": lambda q, r: recall_at_k(q, r, 5),
    "recall@10": lambda q, r: recall_at_k(q, r, 10),
    "mrr@10": lambda q, r: mrr_at_k(q, r, 10),
    "ndcg@10": lambda q, r: ndcg_at_k(q, r, 10),
    "hit@1": lambda q, r: hit_at_k(q, r, 1),
    "hit@5": lambda q, r: hit_at_k(q, r, 5),
    "complete@5": lambda q, r: complete_at_k(q, r, 5),
}
"""The metrics every retrieval report shows, by the names used in JSON output and thresholds."""


def retrieval_scores(qrels: Mapping[str, Qrels], runs: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Mean of every metric in `RETRIEVAL_METRICS` over the queries of `qrels` with a relevant item.

    Args:
        qrels: query id -> judgements of that query.
        runs: query id -> ranked item ids (a query missing from `runs` retrieved nothing).

    Returns:
        Metric name -> mean, plus ``queries``: how many queries were averaged.
    """
    judged = [qid for qid, q in qrels.items() if _relevant(q)]
    scores: dict[str, float] = {}
    for name, fn in RETRIEVAL_METRICS.items():
        values = [fn(qrels[qid], runs.get(qid, ())) for qid in judged]
        scores[name] = sum(values) / len(values) if values else 0.0
    scores["queries"] = float(len(judged))
    return scores


# --- answers -----------------------------------------------------------------------------------
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lowercase, drop punctuation and articles, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, golds: Iterable[str]) -> float:
    """1.0 when the normalised prediction equals any normalised gold answer."""
    pred = normalize_answer(prediction)
    return 1.0 if any(pred == normalize_answer(g) for g in golds) else 0.0


def _token_f1(prediction: str, gold: str) -> float:
    pred_tokens, gold_tokens = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred_tokens), common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, golds: Iterable[str]) -> float:
    """Best token-overlap F1 of the prediction against the gold answers (0.0 with no gold)."""
    return max((_token_f1(prediction, g) for g in golds), default=0.0)


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; 0.0 for no values."""
    items = list(values)
    return sum(items) / len(items) if items else 0.0


# --- routing -----------------------------------------------------------------------------------
def routing_scores(records: Iterable[tuple[bool, str, str | None]], *, server_route: str = "server") -> dict[str, float]:
    """Safety and usefulness of routing decisions.

    Args:
        records: one ``(sensitive, route, expected_route)`` per prompt. A prompt counts as judged
            sensitive when its route is anything but `server_route` (local, or refused).

    Returns:
        ``leaks`` (sensitive prompts routed to the server: must be 0), ``sensitive_precision`` and
        ``sensitive_recall`` of the sensitive class, ``benign_local_share`` (benign prompts kept
        local: the cost of caution), ``route_accuracy`` (route == expected, over prompts that name
        one), and the counts ``prompts``, ``sensitive``, ``benign``.
    """
    rows = list(records)
    tp = sum(1 for s, r, _ in rows if s and r != server_route)
    fp = sum(1 for s, r, _ in rows if not s and r != server_route)
    leaks = sum(1 for s, r, _ in rows if s and r == server_route)
    benign = sum(1 for s, _, _ in rows if not s)
    expected = [(r, e) for _, r, e in rows if e]
    return {
        "leaks": float(leaks),
        "sensitive_precision": tp / (tp + fp) if tp + fp else 1.0,
        "sensitive_recall": tp / (tp + leaks) if tp + leaks else 1.0,
        "benign_local_share": fp / benign if benign else 0.0,
        "route_accuracy": mean(1.0 if r == e else 0.0 for r, e in expected),
        "prompts": float(len(rows)),
        "sensitive": float(tp + leaks),
        "benign": float(benign),
    }


# --- latency -----------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) with linear interpolation, as numpy's default; 0.0 for no values."""
    data = sorted(values)
    if not data:
        return 0.0
    pos = (len(data) - 1) * q / 100.0
    low, high = math.floor(pos), math.ceil(pos)
    return data[low] + (data[high] - data[low]) * (pos - low)


def latency_summary(samples: Iterable[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """p50 and p95 in milliseconds per stage, from per-request latencies in seconds.

    Args:
        samples: one mapping stage -> seconds per request (e.g. ``Answer.latencies``).
    """
    by_stage: dict[str, list[float]] = {}
    for sample in samples:
        for stage, seconds in sample.items():
            by_stage.setdefault(stage, []).append(float(seconds) * 1000.0)
    return {stage: {"p50_ms": percentile(v, 50), "p95_ms": percentile(v, 95)} for stage, v in by_stage.items()}


# Answers cite passages as "[n]" (the prompt in rag/prompts.py asks for it).
CITATION_MARK = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")


def cited_numbers(text: str) -> list[int]:
    """Passage numbers an answer cites (``[2]``, ``[1, 3]``), in order, without repeats."""
    numbers = [int(n) for group in CITATION_MARK.findall(text) for n in group.split(",")]
    return list(dict.fromkeys(numbers))


def strip_citations(text: str) -> str:
    """The answer without its ``[n]`` markers (what answer metrics compare with gold answers)."""
    return CITATION_MARK.sub("", text).strip()
