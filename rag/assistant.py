"""The assistant: retrieve -> classify -> route -> prompt -> generate -> cite.

One request crosses each stage once. Sensitivity is judged on everything the model would be given
(question, chat history, retrieved chunks) plus the chunks' stored labels; `routing.policy.decide`
makes the decision. When a backend fails mid-request the policy is consulted again with that backend
marked down: there is no generic fallback, so a sensitive prompt can never drift to the server.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from indexing.types import SearchHit
from rag.prompts import STOP, SYSTEM_PROMPT, build_messages  # noqa: F401 - re-exported (public names)
from rag.types import Answer, Citation, Principal
from routing.backends.base import GenerationBackend, GenerationStream
from routing.errors import BackendError, BackendUnavailable, DetectionError, RefusedError, SensitiveBackendDown
from routing.findings import Finding
from routing.policy import DETECTION_FAILED, Decision, RoutingPolicy, decide
from routing.prompt_tokens import estimate_tokens

if TYPE_CHECKING:  # pragma: no cover
    from rag.retriever import Retriever
    from rag.runtime import Runtime
    from routing.detect import PresidioDetector

SNIPPET_CHARS = 240
T = TypeVar("T")


@dataclass
class _Prepared:
    """One request's state between routing and generation."""

    question: str
    history: list[dict[str, str]]
    hits: list[SearchHit]
    findings: tuple[list[Finding] | None, list[Finding] | None]
    answer: Answer
    decision: Decision
    started: float
    messages: list[dict[str, str]] = field(default_factory=list)


class Assistant:
    """Answers questions over the index, on the route the policy chooses.

    Args:
        retriever: ACL-filtered search.
        detector: finds sensitive data (Presidio).
        backends: {"local": llama.cpp backend, "server": OpenAI-compatible backend}.
        policy: the routing rules.
        top_k: chunks retrieved per question by default.
        search_mode: retriever mode ("all" = hybrid + graph).
        max_new_tokens: generation budget.
        temperature: sampling temperature (0 = greedy).
        detection_timeout_s: detection budget; past it the request counts as sensitive.
    """

    def __init__(self, retriever: "Retriever", detector: "PresidioDetector",
                 backends: Mapping[str, GenerationBackend], policy: RoutingPolicy, *, top_k: int = 5,
                 search_mode: str = "all", max_new_tokens: int = 128, temperature: float = 0.0,
                 detection_timeout_s: float = 5.0) -> None:
        self.retriever = retriever
        self.detector = detector
        self.backends = dict(backends)
        self.policy = policy
        self.top_k = top_k
        self.search_mode = search_mode
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.detection_timeout_s = detection_timeout_s

    @classmethod
    def from_runtime(cls, runtime: "Runtime") -> "Assistant":
        """Wire an assistant from a runtime's components and settings."""
        s = runtime.settings
        return cls(runtime.retriever, runtime.detector, runtime.backends,
                   RoutingPolicy.from_yaml(s.routing_policy_path), top_k=s.top_k, search_mode=s.search_mode,
                   max_new_tokens=s.max_new_tokens, temperature=s.temperature,
                   detection_timeout_s=s.detection_timeout_s)

    # --- public API ------------------------------------------------------------------------------
    def answer(self, question: str, principal: Principal, *, top_k: int | None = None,
               history: Sequence[Mapping[str, str]] | None = None, request_id: str | None = None) -> Answer:
        """Answer `question` for `principal`.

        Raises:
            RefusedError: the policy refused (e.g. SensitiveBackendDown: local model down, nothing sent).
            BackendError: generation failed on the chosen route and no allowed route remained.
        """
        prep = self._prepare(question, principal, top_k, history, request_id)
        t0 = time.perf_counter()
        gen = self._on_decided_route(prep, lambda backend: backend.generate(
            prep.messages, max_tokens=self.max_new_tokens, temperature=self.temperature, stop=STOP))
        prep.answer.latencies["generate"] = time.perf_counter() - t0
        self._finish(prep, gen.text, gen.prompt_tokens, gen.completion_tokens)
        return prep.answer

    def stream(self, question: str, principal: Principal, *, top_k: int | None = None,
               history: Sequence[Mapping[str, str]] | None = None,
               request_id: str | None = None) -> tuple[Answer, Iterator[str]]:
        """Like `answer`, but returns (answer, text deltas). The answer's text, usage and latencies are
        filled in when the iterator is exhausted. Routing happens before this returns, so a refusal
        raises here, before any byte is streamed."""
        prep = self._prepare(question, principal, top_k, history, request_id)
        gen_stream = self._on_decided_route(prep, lambda backend: backend.stream(
            prep.messages, max_tokens=self.max_new_tokens, temperature=self.temperature, stop=STOP))
        return prep.answer, self._deltas(prep, gen_stream)

    def health(self) -> dict[str, dict]:
        """Each backend's health and model."""
        out = {}
        for name, backend in self.backends.items():
            status = backend.health()
            out[name] = {"ok": status.ok, "detail": status.detail, "model": backend.model.to_dict()}
        return out

    def route_only(self, text: str) -> Decision:
        """The decision for `text` alone (no retrieval, no generation), backends assumed healthy."""
        try:
            findings: list[Finding] | None = list(self.detector.classify(text, self.detection_timeout_s).findings)
        except DetectionError:
            findings = None
        tokens = self._count([{"role": "user", "content": text}])
        return decide(findings, [], [], tokens, {"local": True, "server": True}, self.policy)

    # --- stages ----------------------------------------------------------------------------------
    def _prepare(self, question: str, principal: Principal, top_k: int | None,
                 history: Sequence[Mapping[str, str]] | None, request_id: str | None) -> _Prepared:
        started = time.perf_counter()
        latencies: dict[str, float] = {}
        history = [dict(m) for m in history or []]

        t0 = time.perf_counter()
        hits = self.retriever.search(question, groups=principal.groups, k=top_k or self.top_k,
                                     mode=self.search_mode)
        latencies["retrieve"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        query_findings, context_findings = self._detect(question, history, hits)
        latencies["detect"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        messages = build_messages(question, history, hits)
        tokens = self._count(messages)
        health = {name: backend.health().ok for name, backend in self.backends.items()}
        decision = decide(query_findings, context_findings, {h.chunk_id: h.label for h in hits}, tokens,
                          health, self.policy)
        latencies["route"] = time.perf_counter() - t0

        answer = Answer(request_id=request_id or uuid.uuid4().hex, text="", citations=[], route=decision.route,
                        reasons=list(decision.reasons), level=str(decision.level), model={},
                        latencies=latencies, findings=_findings_summary(query_findings, context_findings))
        prep = _Prepared(question, history, list(hits), (query_findings, context_findings), answer, decision, started)
        self._settle(prep, decision)
        return prep

    def _detect(self, question: str, history: list[dict[str, str]],
                hits: Sequence[SearchHit]) -> tuple[list[Finding] | None, list[Finding] | None]:
        """Findings in what the user wrote and in the context; (None, None) when detection failed."""
        user_texts = [question] + [m.get("content", "") for m in history]
        try:
            detections = self.detector.classify_many(user_texts + [h.text for h in hits],
                                                     timeout_s=self.detection_timeout_s)
        except DetectionError:
            return None, None  # fail closed: decide() treats both as sensitive
        query = [f for d in detections[:len(user_texts)] for f in d.findings]
        context = [f for d in detections[len(user_texts):] for f in d.findings]
        return query, context

    def _settle(self, prep: _Prepared, decision: Decision) -> None:
        """Adopt `decision`: raise if it refuses, else trim the context to its budget and set citations."""
        prep.decision = decision
        prep.answer.route, prep.answer.reasons = decision.route, list(decision.reasons)
        if decision.refused or decision.masked:  # masking is not implemented here: fail closed
            raise self._refusal(decision)
        used = list(prep.hits)
        budget = decision.trim_to_tokens
        while budget is not None and used and self._count(build_messages(prep.question, prep.history, used)) > budget:
            used.pop()
        prep.messages = build_messages(prep.question, prep.history, used)
        prep.answer.citations = [_citation(h) for h in used]
        prep.answer.chunk_ids = [h.chunk_id for h in used]
        prep.answer.model = self.backends[decision.route].model.to_dict()

    def _on_decided_route(self, prep: _Prepared, call: Callable[[GenerationBackend], T]) -> T:
        """`call` the backend of the decided route; when it is unavailable, re-decide without it."""
        tried: set[str] = set()
        while True:
            try:
                return call(self.backends[prep.decision.route])
            except BackendUnavailable as exc:
                tried.add(prep.decision.route)
                self._reroute(prep, tried, exc)  # raises once the policy has no route left

    def _reroute(self, prep: _Prepared, tried: set[str], error: BackendUnavailable) -> _Prepared:
        """Ask the policy again with the failed backends marked down; raise if it refuses."""
        health = {name: name not in tried and backend.health().ok for name, backend in self.backends.items()}
        failed = f"{prep.decision.route} backend failed during generation ({error}); policy re-checked"
        tokens = self._count(build_messages(prep.question, prep.history, prep.hits))
        again = decide(*prep.findings, {h.chunk_id: h.label for h in prep.hits}, tokens, health, self.policy)
        self._settle(prep, Decision(again.route, (*prep.decision.reasons, failed, *again.reasons), again.level,
                                    again.trim_to_tokens, again.masked))
        return prep

    def _refusal(self, decision: Decision) -> RefusedError:
        sensitive = decision.level >= self.policy.sensitive_level or any(DETECTION_FAILED in r for r in decision.reasons)
        cls = SensitiveBackendDown if sensitive else RefusedError
        return cls("request refused: " + "; ".join(decision.reasons), reasons=decision.reasons)

    def _deltas(self, prep: _Prepared, gen_stream: GenerationStream) -> Iterator[str]:
        t0 = time.perf_counter()
        parts: list[str] = []
        with gen_stream:
            for delta in gen_stream:
                parts.append(delta)
                yield delta
        prep.answer.latencies["generate"] = time.perf_counter() - t0
        result = gen_stream.result
        self._finish(prep, "".join(parts), result.prompt_tokens if result else 0,
                     result.completion_tokens if result else 0)

    def _finish(self, prep: _Prepared, text: str, prompt_tokens: int, completion_tokens: int) -> None:
        prep.answer.text = text.strip()
        prep.answer.usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                             "total_tokens": prompt_tokens + completion_tokens}
        prep.answer.latencies["total"] = time.perf_counter() - prep.started

    def _count(self, messages: Sequence[Mapping[str, str]]) -> int:
        """Prompt tokens by the local model's tokenizer; an estimate when that model is down."""
        text = "\n".join(m["content"] for m in messages)
        try:
            tokens = self.backends["local"].count_tokens(text)
        except BackendError:
            tokens = estimate_tokens(text)
        return tokens + 8 * len(messages)  # chat-template overhead per message


def _citation(hit: SearchHit) -> Citation:
    snippet = " ".join(hit.text.split())
    if len(snippet) > SNIPPET_CHARS:
        snippet = snippet[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
    return Citation(doc_id=hit.doc_id, source=hit.source, title=hit.title, chunk_id=hit.chunk_id, snippet=snippet)


def _findings_summary(query: list[Finding] | None, context: list[Finding] | None) -> list[dict]:
    out = [{"where": "query", **f.to_dict()} for f in query or []]
    out += [{"where": "context", **f.to_dict()} for f in context or []]
    return out
