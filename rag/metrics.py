"""Prometheus metrics of one app, in its own `CollectorRegistry` (two apps in one process never clash).

Label values come from small fixed sets only: endpoint path templates (``/v1/documents/{doc_id}``,
never the raw path), stage names, routes, and routing reasons normalised by `normalize_reason` —
never raw text, user names or ids.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REASON_LABELS = ("detection_failed", "sensitive_query", "sensitive_context", "context_label", "not_sensitive",
                 "kept_local", "trimmed", "egress_blocked", "refused_local_down", "large_prompt", "small_prompt",
                 "all_backends_down", "server_down_fallback", "local_down_fallback", "other")
STAGES = ("retrieve", "detect", "route", "generate", "total")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

# First match wins; matched against the lower-cased reason. Written against routing.policy's reason texts.
_REASON_PATTERNS: tuple[tuple[str, str], ...] = (
    ("detection_failed", r"detection failed"),
    ("refused_local_down", r"local backend down: sensitive request refused"),
    ("egress_blocked", r"^server-bound payload|egress"),
    ("all_backends_down", r"both down"),
    ("server_down_fallback", r"^server backend down"),
    ("local_down_fallback", r"^local backend down"),
    ("context_label", r"^context chunk.*\blabel\b"),
    ("sensitive_query", r"^query contains"),
    ("sensitive_context", r"^context contains"),
    ("not_sensitive", r"not sensitive"),
    ("kept_local", r"kept local"),
    ("trimmed", r"trimmed"),
    ("large_prompt", r"tokens > local budget"),
    ("small_prompt", r"tokens <= local budget"),
)


def normalize_reason(reason: str) -> str:
    """Map a free-text routing reason to one of `REASON_LABELS` (a bounded label set).

    A reason that already is a label (or starts with one, like ``"sensitive_query:PERSON"``) keeps it.
    """
    text = str(reason).strip().lower()
    head = re.split(r"[:=\s(]", text, maxsplit=1)[0]
    if head in REASON_LABELS:
        return head
    for label, pattern in _REASON_PATTERNS:
        if re.search(pattern, text):
            return label
    return "other"


def _route_label(route: str | None) -> str:
    return route if route in ("local", "server", "refuse") else ("none" if not route else "other")


class Metrics:
    """The service's counters, histograms and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("rag_http_requests_total", "HTTP requests by endpoint, method and status.",
                                ("endpoint", "method", "status"), registry=r)
        self.request_seconds = Histogram("rag_http_request_seconds", "HTTP request latency by endpoint.",
                                         ("endpoint",), buckets=_LATENCY_BUCKETS, registry=r)
        self.stage_seconds = Histogram("rag_stage_seconds", "Assistant stage latency (retrieve, detect, ...).",
                                       ("stage",), buckets=_LATENCY_BUCKETS, registry=r)
        self.route_seconds = Histogram("rag_route_seconds", "End-to-end answer latency by route.",
                                       ("route",), buckets=_LATENCY_BUCKETS, registry=r)
        self.route_requests = Counter("rag_route_requests_total", "Answers by route.", ("route",), registry=r)
        self.decisions = Counter("rag_routing_decisions_total", "Routing decisions by route and normalised reason.",
                                 ("route", "reason"), registry=r)
        self.refusals = Counter("rag_refusals_total", "Requests refused (503) by error code.", ("code",), registry=r)
        self.backend_errors = Counter("rag_backend_errors_total", "Errors from generation backends and the index.",
                                      ("kind",), registry=r)
        self.queue_waiting = Gauge("rag_local_queue_waiting", "Requests waiting for the local model.", registry=r)
        self.queue_running = Gauge("rag_local_queue_running", "Requests generating on the local model (0 or 1).",
                                   registry=r)
        self.queue_wait_seconds = Histogram("rag_local_queue_wait_seconds", "Time a request waited for the local "
                                            "model.", buckets=_LATENCY_BUCKETS, registry=r)
        self.queue_rejected = Counter("rag_local_queue_rejected_total", "Requests the local queue turned away "
                                      "(full, or waited too long).", ("reason",), registry=r)
        self._queue = None
        self.documents = Gauge("rag_index_documents", "Documents in the index.", registry=r)
        self.chunks = Gauge("rag_index_chunks", "Chunks in the index.", registry=r)

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request and record its latency."""
        self.requests.labels(endpoint, method, str(status)).inc()
        self.request_seconds.labels(endpoint).observe(seconds)

    def observe_answer(self, route: str | None, reasons: Iterable[str], latencies: Mapping[str, float]) -> None:
        """Record one answer's route, normalised reasons and per-stage latencies."""
        label = _route_label(route)
        self.route_requests.labels(label).inc()
        self.observe_decision(route, reasons)
        for stage, seconds in latencies.items():
            if stage in STAGES:
                self.stage_seconds.labels(stage).observe(float(seconds))
        if "total" in latencies:
            self.route_seconds.labels(label).observe(float(latencies["total"]))

    def observe_decision(self, route: str | None, reasons: Iterable[str]) -> None:
        """Count one routing decision under each of its normalised reasons (refusals use route "refuse")."""
        label = _route_label(route)
        for reason in sorted({normalize_reason(r) for r in reasons} or {"other"}):
            self.decisions.labels(label, reason).inc()

    def observe_error(self, code: str, status: int) -> None:
        """Count an error answer: refusals (503) by code, and backend/index failures (5xx)."""
        if status == 503:
            self.refusals.labels(code).inc()
        if status >= 500:
            self.backend_errors.labels(code).inc()

    def bind_queue(self, queue) -> None:  # noqa: ANN001 - routing.backends.queue.GenerationQueue (duck-typed)
        """Export a generation queue's depth, running count, waits and rejections (idempotent)."""
        if queue is None or queue is self._queue:
            return
        self._queue = queue
        self.queue_waiting.set_function(lambda: queue.waiting)
        self.queue_running.set_function(lambda: queue.running)
        queue.on_wait.append(self.queue_wait_seconds.observe)
        queue.on_reject.append(lambda reason: self.queue_rejected.labels(reason).inc())

    def set_index_size(self, documents: int, chunks: int) -> None:
        """Update the index size gauges."""
        self.documents.set(documents)
        self.chunks.set(chunks)

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
