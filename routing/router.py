"""The one routing entry point: evidence + prompt size + backend health -> `routing.policy.decide`.

`rag route`, `rag ask`, the API (`/v1/query`, `/v1/chat/completions`, `/v1/route`), `rag eval` and the
tests all route through `Router.route`; no other module calls `decide` (a test scans the packages).

What is analysed at query time is only what the user wrote (question and history). A retrieved
passage brings its stored label and findings summary (made at ingest over exactly the text that
reaches the prompt, title included); it is analysed again only when that label is stale (made by
another detector or configuration). The exact payload bound for the server is scanned once more by
`routing.egress.EgressGuard`, whose findings come back here as `egress_findings` with the server barred.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from routing.errors import DetectionError
from routing.findings import Detection, Finding
from routing.levels import Level
from routing.policy import Decision, RoutingPolicy, decide
from routing.prompt_tokens import count_message_tokens

Message = Mapping[str, str]
HealthProbe = Callable[[], Mapping[str, bool]]


class Classifier(Protocol):
    """What the router needs of a detector (`PresidioDetector` or `DetectionPool`)."""

    def classify_many(self, texts: Sequence[str], timeout_s: float | None = None,
                      passages: bool = False) -> list[Detection]: ...


@dataclass(frozen=True)
class ContextItem:
    """One passage that will reach the prompt, as the router sees it.

    Attributes:
        chunk_id: the chunk's id.
        text: the passage exactly as the prompt shows it ("title: text").
        label: its stored label (max of declared classification and detection at ingest).
        findings: its stored findings (no text), or None when the label is stale: analysed now.
    """

    chunk_id: str
    text: str
    label: Level
    findings: tuple[Finding, ...] | None = None


@dataclass(frozen=True)
class RouteRequest:
    """Everything the router judges: what the user wrote, the retrieved passages and the full prompt.

    Attributes:
        user_texts: the question and the history turns' contents (analysed at query time).
        messages: the chat prompt that would be sent (its size is counted).
        context: the retrieved passages in that prompt.
    """

    user_texts: tuple[str, ...]
    messages: tuple[Message, ...]
    context: tuple[ContextItem, ...] = ()

    @classmethod
    def for_text(cls, text: str) -> "RouteRequest":
        """A bare prompt: no history, no retrieved context (`rag route`, the routing eval suite)."""
        return cls((text,), ({"role": "user", "content": text},))


@dataclass(frozen=True)
class Evidence:
    """Findings behind a decision; None = detection failed or timed out (treated as sensitive)."""

    query: tuple[Finding, ...] | None
    context: tuple[Finding, ...] | None
    labels: Mapping[str, Level] = field(default_factory=dict)
    reanalysed: int = 0  # passages analysed at query time because their stored label was stale


@dataclass(frozen=True)
class Routed:
    """A decision with the evidence and prompt size it was made on."""

    decision: Decision
    evidence: Evidence
    prompt_tokens: int


class Router:
    """Routes requests: detection of user text, stored labels, one token counter, health, the policy.

    Args:
        detector: classifies text (`classify_many`); failures and timeouts count as sensitive.
        policy: the routing rules.
        health: returns {"local": bool, "server": bool}; a missing key is down.
        timeout_s: detection budget per request.
    """

    def __init__(self, detector: Classifier, policy: RoutingPolicy, health: HealthProbe,
                 timeout_s: float | None = None) -> None:
        self.detector = detector
        self.policy = policy
        self.health = health
        self.timeout_s = timeout_s

    def route(self, request: RouteRequest, *, barred: Collection[str] = (),
              egress_findings: Sequence[Finding] | None = (), evidence: Evidence | None = None) -> Routed:
        """Decide where `request` goes.

        Args:
            request: what would be sent.
            barred: backends that must not be used (treated as down), e.g. {"server"} after the egress guard.
            egress_findings: what the egress scan of the server-bound payload found (None: the scan failed).
            evidence: findings already gathered for this request (a re-route reuses them).
        """
        evidence = evidence or self.evidence(request)
        tokens = count_message_tokens(request.messages)
        health = {name: bool(up) and name not in barred for name, up in self.health().items()}
        decision = decide(evidence.query, evidence.context, evidence.labels, tokens, health, self.policy,
                          egress_findings=egress_findings)
        return Routed(decision, evidence, tokens)

    def evidence(self, request: RouteRequest) -> Evidence:
        """Analyse the user's texts, and every stale passage as a passage; stored findings for the rest."""
        stale = [item.text for item in request.context if item.findings is None]
        labels = {item.chunk_id: item.label for item in request.context}
        try:
            asked, passages = classify_both(self.detector, request.user_texts, stale, self.timeout_s)
        except DetectionError:
            return Evidence(None, None, labels, len(stale))  # fail closed: decide() treats both as sensitive
        query = tuple(f for d in asked for f in d.findings)
        context = [f for d in passages for f in d.findings]
        context += [f for item in request.context if item.findings is not None for f in item.findings]
        return Evidence(query, tuple(context), labels, len(stale))


def classify_both(detector: Classifier, asked: Sequence[str], passages: Sequence[str],
                  timeout_s: float | None) -> tuple[list[Detection], list[Detection]]:
    """What a user wrote, then document passages (read as passages), within one `timeout_s` budget for both
    (None: the detector's own). Raises `DetectionError` as the detector does, or when no budget is left."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    out = []
    for texts, as_passages in ((asked, False), (passages, True)):
        if not texts:
            out.append([])
            continue
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise DetectionError(f"sensitivity detection exceeded {timeout_s:.1f}s; treated as sensitive")
        out.append(detector.classify_many(texts, timeout_s=left, passages=as_passages))
    return out[0], out[1]


def count_tokens(messages: Sequence[Message]) -> int:
    """The router's prompt size for `messages` (the callers that trim a prompt use the same count)."""
    return count_message_tokens(messages)


__all__ = ["Router", "RouteRequest", "ContextItem", "Evidence", "Routed", "Classifier", "classify_both", "count_tokens"]
