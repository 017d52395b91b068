"""Service metrics: own registry per app, bounded label sets (reasons normalised, never raw text)."""
from __future__ import annotations

import pytest

from rag.metrics import REASON_LABELS, Metrics, normalize_reason


@pytest.mark.parametrize("reason, label", [
    ("query detection failed: treated as sensitive", "detection_failed"),
    ("context detection failed: treated as sensitive", "detection_failed"),
    ("query contains US_SSN (restricted) >= confidential", "sensitive_query"),
    ("context contains PERSON (confidential) >= confidential", "sensitive_context"),
    ("context chunk 3f2a label restricted >= confidential", "context_label"),
    ("highest level internal < confidential: not sensitive", "not_sensitive"),
    ("sensitive (restricted): kept local", "kept_local"),
    ("prompt 900 tokens > local budget 512: trimmed to fit the local model", "trimmed"),
    ("local backend down: sensitive request refused, not sent to the server", "refused_local_down"),
    ("server-bound payload contains PHONE_NUMBER (confidential) >= confidential", "egress_blocked"),
    ("egress scan of the server-bound payload stopped it: server barred, policy re-checked", "egress_blocked"),
    ("prompt 3000 tokens > local budget 1500: server", "large_prompt"),
    ("prompt 20 tokens <= local budget 1500: local (small_prompt_preference)", "small_prompt"),
    ("local and server backends both down: refused", "all_backends_down"),
    ("server backend down: local instead", "server_down_fallback"),
    ("local backend down: server instead", "local_down_fallback"),
    ("sensitive_query: PERSON", "sensitive_query"),
    ("Jane Roe's salary is 120000", "other"),
])
def test_when_reason_normalised_then_bounded_label(reason, label):
    assert normalize_reason(reason) == label
    assert label in REASON_LABELS


def test_when_answers_observed_then_exposition_has_route_reason_and_stage_series():
    metrics = Metrics()
    metrics.observe_request("/v1/query", "POST", 200, 0.2)
    metrics.observe_answer("local", ["query contains PERSON (confidential) >= confidential", "Jane Roe"],
                           {"retrieve": 0.01, "generate": 0.5, "total": 0.6})
    metrics.observe_error("sensitive_local_down", 503)
    metrics.set_index_size(3, 42)
    text = metrics.render()[0].decode()
    assert 'rag_http_requests_total{endpoint="/v1/query",method="POST",status="200"} 1.0' in text
    assert 'rag_routing_decisions_total{reason="sensitive_query",route="local"} 1.0' in text
    assert 'rag_routing_decisions_total{reason="other",route="local"} 1.0' in text
    assert 'rag_stage_seconds_count{stage="generate"} 1.0' in text
    assert 'rag_refusals_total{code="sensitive_local_down"} 1.0' in text
    assert "rag_index_chunks 42.0" in text
    assert "Jane" not in text


def test_when_two_apps_then_registries_independent():
    first, second = Metrics(), Metrics()
    first.observe_request("/healthz", "GET", 200, 0.001)
    assert b"/healthz" not in second.render()[0]
