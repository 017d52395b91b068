"""The detection worker pool: a stalled analysis is stopped for real, and the next request is served.

Real Presidio in real worker processes (slow: each worker loads spaCy).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from routing.detect_pool import DetectionPool
from routing.errors import DetectionError
from routing.levels import Level
from routing.policy import RoutingPolicy
from routing.router import ContextItem, RouteRequest, Router

pytestmark = pytest.mark.slow
RECOGNIZERS = Path(__file__).resolve().parents[2] / "routing" / "recognizers.yaml"
# Within the prompt bounds (20,000 characters) but far slower to analyse than the budget below.
PATHOLOGICAL = ("Dana Whitfield met Marta Kowalczyk in Room 4 about claim 0042. " * 300)[:19_000]


@pytest.fixture(scope="module")
def pool():
    pool = DetectionPool(RECOGNIZERS, workers=2, timeout_s=0.25)
    pool.warm_up()
    yield pool
    pool.close()


def test_when_one_request_stalls_then_its_worker_is_replaced_and_the_next_request_is_served(pool):
    healthy = lambda: {"local": True, "server": True}  # noqa: E731
    tight = Router(pool, RoutingPolicy(), healthy, timeout_s=0.25)
    router = Router(pool, RoutingPolicy(), healthy, timeout_s=10.0)

    stalled = tight.route(RouteRequest.for_text(PATHOLOGICAL)).decision
    assert stalled.route == "local" and any("detection failed" in r for r in stalled.reasons)  # fail closed
    assert pool.respawned == 1

    served = router.route(RouteRequest.for_text("My SSN is 536-90-4399, is my refund through?"))
    assert served.evidence.query is not None  # analysed, not a timeout
    assert [f.entity_type for f in served.evidence.query] == ["US_SSN"]
    assert served.decision.level is Level.RESTRICTED and served.decision.route == "local"

    benign = router.route(RouteRequest.for_text("What is the travel policy?")).decision
    assert benign.route == "server"


def test_when_detection_started_before_retrieval_times_out_then_route_fails_closed(pool):
    tight = Router(pool, RoutingPolicy(), lambda: {"local": True, "server": True}, timeout_s=0.25)
    respawned = pool.respawned
    request = RouteRequest((PATHOLOGICAL,), ({"role": "user", "content": PATHOLOGICAL},),
                           (ContextItem("c1", "Travel: book economy class.", Level.PUBLIC, None),))

    routed = tight.route(request, evidence=tight.start(request.user_texts))

    assert routed.evidence.query is None and routed.evidence.context is None  # fail closed, passages too
    assert routed.decision.route == "local" and any("detection failed" in r for r in routed.decision.reasons)
    assert pool.respawned == respawned + 1  # the stalled worker was stopped for real


def test_when_worker_classifies_then_results_match_the_in_process_detector(pool):
    from routing.detect import PresidioDetector

    texts = ["Call me on +1 202-555-0173 tomorrow.", "The office opens at nine."]
    local = PresidioDetector.from_yaml(RECOGNIZERS)

    assert pool.classify_many(texts, timeout_s=30) == local.classify_many(texts)


def test_when_pool_closed_then_detection_error_not_a_hang():
    pool = DetectionPool(RECOGNIZERS, workers=1)
    pool.close()

    with pytest.raises(DetectionError):
        pool.classify_many(["hello"])
