"""Detection of what the user wrote started before retrieval (`Router.start`), completed by `Router.route`.

The early detection fails closed exactly as a direct one does; stale passages are still analysed after
retrieval, within the same single budget; with the real detector the decision is the one the sequential
path makes.
"""
from __future__ import annotations

import threading
import time

import pytest

from routing.errors import DetectionError
from routing.findings import Detection, Finding
from routing.levels import Level
from routing.policy import RoutingPolicy
from routing.router import ContextItem, RouteRequest, Router

HEALTHY = {"local": True, "server": True}


class RuleClassifier:
    """'SSN' in a text is restricted. Records each call (texts, budget, passages); can sleep or fail."""

    def __init__(self, *, delay_s: float = 0.0, fail: bool = False) -> None:
        self.delay_s, self.fail = delay_s, fail
        self.calls: list[tuple[list[str], float | None, bool]] = []
        self.began = threading.Event()

    def classify_many(self, texts, timeout_s=None, passages=False):
        self.calls.append((list(texts), timeout_s, passages))
        self.began.set()
        time.sleep(self.delay_s)
        if self.fail:
            raise DetectionError("sensitivity detection exceeded 0.1s; treated as sensitive")
        return [Detection.from_findings([Finding("US_SSN", 0, 3, 0.9, Level.RESTRICTED)] if "SSN" in t else [])
                for t in texts]


def _request(question: str, *passages: tuple[str, tuple | None]) -> RouteRequest:
    context = tuple(ContextItem(f"c{i}", text, Level.PUBLIC, findings) for i, (text, findings) in enumerate(passages))
    return RouteRequest((question,), ({"role": "user", "content": question},), context)


def _router(detector, timeout_s: float | None = 5.0) -> Router:
    return Router(detector, RoutingPolicy(), lambda: HEALTHY, timeout_s=timeout_s)


def test_when_started_then_user_texts_are_analysed_before_route_is_called():
    detector = RuleClassifier(delay_s=0.05)
    router = _router(detector)

    pending = router.start(("How long do returns take?",))

    assert detector.began.wait(5)  # running in the background while the caller retrieves
    routed = router.route(_request("How long do returns take?"), evidence=pending)
    assert routed.decision.route == "server" and routed.evidence.query == ()
    assert [c[0] for c in detector.calls] == [["How long do returns take?"]]  # analysed once, not again


@pytest.mark.parametrize("detector", [RuleClassifier(fail=True), RuleClassifier(delay_s=0.05, fail=True)],
                         ids=["fails-at-once", "fails-while-route-waits"])
def test_when_started_detection_fails_then_route_fails_closed(detector):
    router = _router(detector)
    pending = router.start(("How long do returns take?",))

    routed = router.route(_request("How long do returns take?", ("Returns: 30 days.", ())), evidence=pending)

    assert routed.evidence.query is None and routed.evidence.context is None
    assert routed.decision.route == "local" and any("detection failed" in r for r in routed.decision.reasons)


def test_when_passage_is_stale_then_it_is_analysed_after_retrieval_as_a_passage():
    detector = RuleClassifier()
    router = _router(detector)
    pending = router.start(("Where is the register?",))
    request = _request("Where is the register?", ("Register: SSN 536-90-4399", None), ("Returns: 30 days.", ()))

    routed = router.route(request, evidence=pending)

    assert [(c[0], c[2]) for c in detector.calls] == [(["Where is the register?"], False),
                                                      (["Register: SSN 536-90-4399"], True)]
    assert routed.evidence.reanalysed == 1 and [f.entity_type for f in routed.evidence.context] == ["US_SSN"]
    assert routed.decision.route == "local"


def test_when_started_then_passages_get_what_is_left_of_the_one_budget():
    detector = RuleClassifier(delay_s=0.2)
    router = _router(detector, timeout_s=1.0)
    pending = router.start(("Where is the register?",))
    time.sleep(0.2)  # retrieval: the budget runs from `start`

    router.route(_request("Where is the register?", ("Register: Dana Roe", None)), evidence=pending)

    (_, asked_budget, _), (_, passage_budget, _) = detector.calls
    assert asked_budget == 1.0 and passage_budget <= 0.8  # not a second full budget


def test_when_retrieval_used_up_the_budget_then_stale_passages_fail_closed():
    detector = RuleClassifier()
    router = _router(detector, timeout_s=0.05)
    pending = router.start(("Where is the register?",))
    time.sleep(0.1)  # retrieval took longer than the whole detection budget

    routed = router.route(_request("Where is the register?", ("Register: Dana Roe", None)), evidence=pending)

    assert routed.evidence.query is None and routed.decision.route == "local"
    assert len(detector.calls) == 1  # the passage was never sent to the detector without a budget


def test_when_started_with_other_texts_then_route_refuses_to_mix_them():
    router = _router(RuleClassifier())
    pending = router.start(("What is the travel policy?",))

    with pytest.raises(ValueError, match="other texts"):
        router.route(_request("My SSN is 536-90-4399"), evidence=pending)


@pytest.mark.slow
@pytest.mark.parametrize("question, history, route", [
    ("My SSN is 536-90-4399, is my refund through?", (), "local"),
    ("What is the travel policy?", (), "server"),
    ("What is the travel policy?", ("Call me on +1 202-555-0173 about my divorce.",), "local"),
])
def test_when_started_early_then_real_detector_decides_as_the_sequential_path(detector, question, history, route):
    router = _router(detector, timeout_s=30.0)
    texts = (question, *history)
    request = RouteRequest(texts, tuple({"role": "user", "content": t} for t in texts),
                           (ContextItem("c1", "Travel: book economy class.", Level.PUBLIC, None),))

    overlapped = router.route(request, evidence=router.start(texts))
    sequential = router.route(request)

    assert overlapped.decision == sequential.decision and overlapped.evidence == sequential.evidence
    assert overlapped.decision.route == route and overlapped.evidence.reanalysed == 1
