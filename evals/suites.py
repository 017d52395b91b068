"""The evaluation suites, each a function over components it is given (no settings, no ingestion).

* `evaluate_retrieval`: every retriever mode on the same queries, so a report shows what each part
  (BM25, dense, graph, their fusion) contributes; latency per mode.
* `evaluate_answers`: questions through the assistant (real model): SQuAD exact match / token F1,
  abstention on unanswerable questions, citation accuracy, latency per stage, routes taken.
* `evaluate_routing`: labelled prompts through the route decision: leaks (must be 0), precision and
  recall of the sensitive class, benign prompts kept local, latency.
"""
from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from evals import metrics
from evals.datasets import EvalQuery, RoutingPrompt
from evals.relevance import any_supported, qrels_of, rank_items

MODES = ("bm25", "dense", "hybrid", "graph", "all")
SEARCH_K = 10  # deepest cut-off of any retrieval metric

ABSTENTION = re.compile(
    r"\b(i (do not|don't|cannot|can't|could not|couldn't) (know|find|answer|tell|say)"
    r"|not (mentioned|found|stated|specified|provided|available|covered|in the (provided |given )?(context|documents?|sources?))"
    r"|no (information|answer|mention|relevant)"
    r"|(cannot|can't|unable to) (be )?(answer|determine|find)"
    r"|does(n't| not) (say|mention|contain|specify|provide)"
    r"|insufficient|not enough information)\b",
    re.IGNORECASE,
)
"""How an abstention reads; the assistant's own refusal sentence must match (tested)."""


class Searcher(Protocol):
    """What the retrieval suite needs (`rag.retriever.Retriever` has it)."""

    def search(self, query: str, *, groups: Sequence[str] | None, k: int, mode: str) -> list[Any]: ...


@dataclass(frozen=True)
class _Cited:
    chunk_id: str
    source: str
    text: str


@dataclass(frozen=True)
class _Failed:
    text: str = ""
    citations: tuple = ()
    route: str = "failed"


_FAILED = _Failed()


def is_abstention(text: str) -> bool:
    """True when an answer declines to answer (empty, or says the sources do not hold it)."""
    return not text.strip() or bool(ABSTENTION.search(text))


def _search_mode(retriever: Searcher, queries: Sequence[EvalQuery], mode: str) -> tuple[dict[str, list[str]], list[float]]:
    runs: dict[str, list[str]] = {}
    seconds: list[float] = []
    for query in queries:
        start = time.perf_counter()
        hits = retriever.search(query.question, groups=list(query.groups), k=SEARCH_K, mode=mode)
        seconds.append(time.perf_counter() - start)
        runs[query.id] = rank_items(hits, query.targets)
    return runs, seconds


def evaluate_retrieval(queries: Sequence[EvalQuery], retriever: Searcher, modes: Sequence[str] = MODES,
                       progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Retrieval metrics of every mode over the queries that have relevance targets.

    A mode whose search raises is reported under ``errors`` (and so misses its thresholds) instead
    of stopping the other modes.

    Returns:
        ``{"queries": n, "modes": {mode: {metric: value, "latency_p50_ms", "latency_p95_ms"}},
        "errors": {mode: message}}``.
    """
    judged = [q for q in queries if q.targets]
    qrels = {q.id: qrels_of(q.targets) for q in judged}
    result: dict[str, Any] = {"queries": len(judged), "modes": {}, "errors": {}}
    for mode in modes:
        if progress:
            progress(f"{mode}: {len(judged)} queries")
        try:
            runs, seconds = _search_mode(retriever, judged, mode)
        except Exception as exc:  # reported, and fails the thresholds of this mode
            result["errors"][mode] = f"{type(exc).__name__}: {exc}"
            continue
        scores = metrics.retrieval_scores(qrels, runs)
        scores.pop("queries", None)
        scores["latency_p50_ms"] = metrics.percentile(seconds, 50) * 1000
        scores["latency_p95_ms"] = metrics.percentile(seconds, 95) * 1000
        result["modes"][mode] = scores
    return result


def _cited(answer: Any, texts: dict[str, Any]) -> list[_Cited]:
    out = []
    for c in answer.citations:
        hit = texts.get(c.chunk_id)
        out.append(_Cited(c.chunk_id, c.source, hit.text if hit is not None else c.snippet))
    return out


def _cited_hits(answer: Any, texts: dict[str, Any]) -> list[_Cited]:
    """The passages the answer cites with ``[n]`` markers; all passages it was given when it has none."""

    given = _cited(answer, texts)
    marked = [given[n - 1] for n in metrics.cited_numbers(answer.text) if 0 < n <= len(given)]
    return marked or given


def _scores(rows: list[dict[str, float]]) -> dict[str, float]:
    answerable = [r for r in rows if "f1" in r]
    unanswerable = [r for r in rows if "abstained" in r]
    return {
        "exact_match": metrics.mean(r["em"] for r in answerable),
        "f1": metrics.mean(r["f1"] for r in answerable),
        "citation_accuracy": metrics.mean(r["cited_ok"] for r in answerable),
        "citation_marked_rate": metrics.mean(r["marked"] for r in answerable),
        "false_abstention_rate": metrics.mean(r["false_abstain"] for r in answerable),
        "abstention_accuracy": metrics.mean(r["abstained"] for r in unanswerable),
        "answerable": float(len(answerable)),
        "unanswerable": float(len(unanswerable)),
    }


def _score_one(query: EvalQuery, answer: Any, texts: dict[str, Any]) -> dict[str, float]:

    text = metrics.strip_citations(answer.text)
    abstained = is_abstention(text)
    if not query.answerable:
        return {"abstained": float(abstained)}
    return {"em": metrics.exact_match(text, query.answers), "f1": metrics.token_f1(text, query.answers),
            "false_abstain": float(abstained), "marked": float(bool(metrics.cited_numbers(answer.text))),
            "cited_ok": float(any_supported(_cited_hits(answer, texts), query.targets, query.answers))}


def evaluate_answers(
    queries: Sequence[EvalQuery],
    ask: Callable[[EvalQuery], Any],
    chunk_texts: Callable[[EvalQuery], dict[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Answer quality through the assistant.

    Answers are scored without their ``[n]`` citation markers (SQuAD exact match and token F1);
    citation accuracy judges the passages an answer cites with markers (all passages it was given
    when it cites none); an answer abstains when it says the sources do not hold the answer.

    Args:
        queries: the (sampled) questions; unanswerable ones test abstention.
        ask: question -> `rag.types.Answer` (text, citations, route, latencies).
        chunk_texts: question -> {chunk_id: hit} for the full text of cited chunks (citations carry
            only a snippet); without it the snippet is judged.
        progress: called with one line per question (id, route, score, seconds; never text).

    Returns:
        ``{"metrics": {exact_match, f1, abstention_accuracy, false_abstention_rate, citation_accuracy,
        citation_marked_rate, answerable, unanswerable, failures}, "failures": {error type: count},
        "latency": {stage: {p50_ms, p95_ms}}, "routes": {route: count}, "by_route": {route: metrics
        + latency}, "per_query": {query id: {route, f1 | abstained}}}``.
    """
    rows: list[dict[str, float]] = []
    by_route: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {}
    latencies, routes, failures, per_query = [], Counter(), Counter(), {}
    for query in queries:
        try:
            answer = ask(query)
        except Exception as exc:  # refused or backend error: scored as an empty answer, counted by type
            failures[type(exc).__name__] += 1
            answer = _FAILED
        else:
            latencies.append(answer.latencies)
        routes[answer.route] += 1
        row = _score_one(query, answer, chunk_texts(query) if chunk_texts and query.answerable else {})
        rows.append(row)
        by_route.setdefault(answer.route, []).append((row, getattr(answer, "latencies", {}) or {}))
        per_query[query.id] = {"route": answer.route, **{k: row[k] for k in ("f1", "abstained") if k in row}}
        if progress:
            total = (getattr(answer, "latencies", None) or {}).get("total", 0.0)
            progress(f"{len(rows)}/{len(queries)} {query.id} {answer.route} "
                     + " ".join(f"{k}={row[k]:.2f}" for k in ("f1", "abstained") if k in row) + f" {total:.1f}s")
    return {
        "metrics": {**_scores(rows), "failures": float(sum(failures.values()))},
        "failures": dict(failures),
        "latency": metrics.latency_summary(latencies),
        "routes": dict(sorted(routes.items())),
        "by_route": {route: {**_scores([r for r, _ in pairs]), "latency": metrics.latency_summary([t for _, t in pairs])}
                     for route, pairs in sorted(by_route.items())},
        "per_query": per_query,
    }


def evaluate_routing(prompts: Sequence[RoutingPrompt], route: Callable[[str], Any]) -> dict[str, Any]:
    """Routing safety over labelled prompts.

    Args:
        prompts: labelled prompts.
        route: text -> a decision with a ``route`` attribute ("local", "server", "refuse").

    Returns:
        ``{"metrics": metrics.routing_scores(...), "by_category": {category: scores},
        "leaked_ids": [...], "over_cautious_ids": [...], "latency": {"route": {p50_ms, p95_ms}}}``;
        ids only, never prompt text.
    """
    records: list[tuple[bool, str, str | None]] = []
    by_category: dict[str, list[tuple[bool, str, str | None]]] = {}
    leaked, cautious, seconds = [], [], []
    for prompt in prompts:
        start = time.perf_counter()
        decision = route(prompt.text)
        seconds.append({"route": time.perf_counter() - start})
        record = (prompt.sensitive, str(decision.route), prompt.expected_route)
        records.append(record)
        by_category.setdefault(prompt.category or "uncategorized", []).append(record)
        if prompt.sensitive and decision.route == "server":
            leaked.append(prompt.id)
        elif not prompt.sensitive and decision.route != "server":
            cautious.append(prompt.id)
    return {
        "metrics": metrics.routing_scores(records),
        "by_category": {c: metrics.routing_scores(r) for c, r in sorted(by_category.items())},
        "leaked_ids": leaked,
        "over_cautious_ids": cautious,
        "latency": metrics.latency_summary(seconds),
    }


KINDS = ("identifier", "secret", "personal_matter", "address", "benign")
CATEGORY_KINDS = {
    # data/routing/{prompts,generated}.jsonl categories (no `kind` field) -> kind
    "ssn": "identifier", "iban": "identifier", "credit_card": "identifier", "employee_id": "identifier",
    "dob": "identifier", "email": "identifier", "phone": "identifier", "credential": "secret",
    "salary": "personal_matter", "health": "personal_matter", "address": "address",
    "codename": "business", "marking": "business",
}


def kind_of(prompt: RoutingPrompt) -> str:
    """The prompt's kind: its ``kind`` field, else one derived from its category (benign_* -> benign)."""
    kind = prompt.extra.get("kind")
    if kind:
        return str(kind)
    if not prompt.sensitive:
        return "benign"
    return CATEGORY_KINDS.get(prompt.category, "other")


def _set_metrics(prompts: Sequence[RoutingPrompt], routes: Sequence[str], seconds: Sequence[float]) -> dict[str, float]:
    out = dict(metrics.routing_scores((p.sensitive, r, p.expected_route) for p, r in zip(prompts, routes)))
    out["ms_per_prompt"] = 1000.0 * sum(seconds) / len(seconds) if seconds else 0.0
    by_kind: dict[str, list[bool]] = {}
    for prompt, route in zip(prompts, routes):
        by_kind.setdefault(kind_of(prompt), []).append(route != "server")
    for kind, kept in sorted(by_kind.items()):
        out[f"n_{kind}"] = float(len(kept))
        if kind == "benign":
            out["benign_kept_local"] = sum(kept) / len(kept)
        else:
            out[f"recall_{kind}"] = sum(kept) / len(kept)
            out[f"leaks_{kind}"] = float(len(kept) - sum(kept))
    return out


def evaluate_routing_sets(sets: dict[str, Sequence[RoutingPrompt]], route: Callable[[str], Any],
                          skipped: dict[str, str] | None = None) -> dict[str, Any]:
    """Routing safety per prompt set, side by side (dev, tuning, held-out...).

    Per set: the `metrics.routing_scores` figures, ``recall_<kind>`` (sensitive prompts of that kind
    kept off the server) and ``leaks_<kind>``, ``benign_kept_local``, ``ms_per_prompt``. The first
    set's full `evaluate_routing` result stays at the top level (``metrics``, ``by_category``,
    ``leaked_ids``...) so existing thresholds keep applying to it.

    Returns:
        ``{"metrics", "by_category", "leaked_ids", "over_cautious_ids", "latency" (first set),
        "sets": {name: flat metrics}, "leaked": {name: ids}, "skipped": {name: why}}``.
    """
    result: dict[str, Any] = {"sets": {}, "leaked": {}, "skipped": dict(skipped or {})}
    for index, (name, prompts) in enumerate(sets.items()):
        routes, seconds = [], []
        for prompt in prompts:
            start = time.perf_counter()
            routes.append(str(route(prompt.text).route))
            seconds.append(time.perf_counter() - start)
        result["sets"][name] = _set_metrics(prompts, routes, seconds)
        result["leaked"][name] = [p.id for p, r in zip(prompts, routes) if p.sensitive and r == "server"]
        if index == 0:
            fixed = iter(routes)
            first = evaluate_routing(prompts, lambda _text: _Route(next(fixed)))
            result.update({k: v for k, v in first.items() if k != "latency"})
            result["latency"] = {"route": {"p50_ms": 1000 * metrics.percentile(seconds, 50),
                                           "p95_ms": 1000 * metrics.percentile(seconds, 95)}}
    return result


@dataclass(frozen=True)
class _Route:
    route: str
