"""The assistant: retrieve -> classify -> route -> prompt -> generate -> cite.

One request crosses each stage once. Sensitivity is judged on everything the model would be given:
the question and chat history (analysed now), the retrieved passages' stored labels and findings
(analysed again only when stale); `routing.router.Router` makes the decision. When a backend fails
mid-request, or the egress guard stops a server-bound payload, the router is asked again with that
backend barred: there is no generic fallback, so a sensitive prompt can never drift to the server.
"""
from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, TypeVar

from indexing.types import SearchHit, passage_text
from rag.errors import PromptTooLarge
from rag.prompts import INSTRUCTION_TEXTS, STOP, SYSTEM_PROMPT, build_messages  # noqa: F401 - re-exported (public names)
from rag.types import Answer, Citation, Principal
from routing.backends.base import BackendHealth, Generation, GenerationBackend, GenerationStream
from routing.egress import EgressBlocked, guarded
from routing.errors import BackendUnavailable, RefusedError, SensitiveBackendDown
from routing.findings import Finding
from routing.levels import Level
from routing.policy import DETECTION_FAILED, Decision, RoutingPolicy
from routing.router import Classifier, ContextItem, Evidence, RouteRequest, Routed, Router, count_tokens

if TYPE_CHECKING:  # pragma: no cover
    from rag.retriever import Retriever
    from rag.runtime import Runtime

SNIPPET_CHARS = 240
T = TypeVar("T")


@dataclass
class _Prepared:
    """One request's state between routing and generation."""

    question: str
    history: list[dict[str, str]]
    hits: list[SearchHit]
    request: RouteRequest
    evidence: Evidence
    answer: Answer
    decision: Decision
    started: float
    prompt_tokens: int = 0
    egress: tuple[Finding, ...] | None = ()
    messages: list[dict[str, str]] = field(default_factory=list)
    used: list[SearchHit] = field(default_factory=list)


@dataclass(frozen=True)
class PromptLimits:
    """Bounds on what one request may make the detector and the model read (over them: 413).

    Attributes:
        max_history_turns: earlier chat messages kept in one request.
        max_history_chars: characters over all history messages.
        max_total_chars: characters over question + history.
    """

    max_history_turns: int = 20
    max_history_chars: int = 16_000
    max_total_chars: int = 20_000


class Assistant:
    """Answers questions over the index, on the route the policy chooses.

    The server backend is always wrapped in a `routing.egress.EgressGuard`: whatever was decided,
    the exact server-bound payload is scanned before it is sent; a stopped payload is routed again
    with the server barred.

    Args:
        retriever: ACL-filtered search.
        detector: classifies query-time text (question, history, stale passages, egress payloads).
        backends: {"local": llama.cpp backend, "server": OpenAI-compatible backend}.
        policy: the routing rules.
        top_k: chunks retrieved per question by default.
        search_mode: retriever mode ("all" = hybrid + graph).
        max_new_tokens: generation budget.
        temperature: sampling temperature (0 = greedy).
        detection_timeout_s: detection budget; past it the request counts as sensitive.
        limits: bounds on history and prompt size.
        label_stamp: the current detector/config stamp; a passage whose stored stamp differs is re-analysed.
        max_passages: route -> most passages its model is given (the best-ranked ones; models.yaml
            ``decoding.max_passages``): a small model answers better from fewer, more relevant passages.
    """

    def __init__(self, retriever: "Retriever", detector: Classifier,
                 backends: Mapping[str, GenerationBackend], policy: RoutingPolicy, *, top_k: int = 5,
                 search_mode: str = "all", max_new_tokens: int = 128, temperature: float = 0.0,
                 detection_timeout_s: float = 5.0, limits: PromptLimits | None = None,
                 label_stamp: str | None = None, max_passages: Mapping[str, int | None] | None = None) -> None:
        self.retriever = retriever
        self.detector = detector
        self.backends = dict(backends)
        if "server" in self.backends:  # structural: no code path reaches the server unscanned
            self.backends["server"] = guarded(self.backends["server"], detector, policy.sensitive_level,
                                              detection_timeout_s, trusted=INSTRUCTION_TEXTS)
        self.policy = policy
        self.top_k = top_k
        self.search_mode = search_mode
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.detection_timeout_s = detection_timeout_s
        self.limits = limits or PromptLimits()
        self.label_stamp = label_stamp
        self.max_passages = {route: n for route, n in (max_passages or {}).items() if n}
        self.router = Router(detector, policy, self._health, timeout_s=detection_timeout_s)

    @classmethod
    def from_runtime(cls, runtime: "Runtime") -> "Assistant":
        """Wire an assistant from a runtime's components and settings."""
        s = runtime.settings
        limits = PromptLimits(s.max_history_turns, s.max_history_chars, s.max_prompt_chars)
        return cls(runtime.retriever, runtime.query_detector, runtime.backends, runtime.policy, top_k=s.top_k,
                   search_mode=s.search_mode, max_new_tokens=s.max_new_tokens, temperature=s.temperature,
                   detection_timeout_s=s.detection_timeout_s, limits=limits, label_stamp=runtime.label_stamp,
                   max_passages={"local": s.local_max_passages, "server": s.server_max_passages})

    # --- public API ------------------------------------------------------------------------------
    def answer(self, question: str, principal: Principal, *, top_k: int | None = None,
               history: Sequence[Mapping[str, str]] | None = None, request_id: str | None = None) -> Answer:
        """Answer `question` for `principal`.

        Raises:
            PromptTooLarge: the history or the prompt is over the configured bounds (nothing analysed).
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

    def plan(self, question: str, principal: Principal, *, top_k: int | None = None,
             history: Sequence[Mapping[str, str]] | None = None, request_id: str | None = None) -> RoutePlan:
        """What `answer` would send where, without generating: the same retrieval, routing and egress scan.

        A refusal is reported in the plan (route "refuse"), not raised. The plan holds no text: chunk ids,
        labels, entity types, offsets, levels, reasons and prompt tokens only.

        Raises:
            PromptTooLarge: as `answer`.
        """
        try:
            prep = self._prepare(question, principal, top_k, history, request_id)
            if prep.decision.route == "server":
                self._dry_egress(prep)
        except RefusedError as exc:
            prep = exc.prepared  # type: ignore[attr-defined]
        return RoutePlan.of(prep)

    def health(self) -> dict[str, dict]:
        """Each backend's health and model."""
        out = {}
        for name, backend in self.backends.items():
            status = backend.health()
            out[name] = {"ok": status.ok, "detail": status.detail, "model": backend.model.to_dict()}
        return out

    # --- stages ----------------------------------------------------------------------------------
    def _prepare(self, question: str, principal: Principal, top_k: int | None,
                 history: Sequence[Mapping[str, str]] | None, request_id: str | None) -> _Prepared:
        started = time.perf_counter()
        latencies: dict[str, float] = {}
        history = [dict(m) for m in history or []]
        check_prompt_size(question, history, self.limits)

        hits, request, routed = retrieve_and_route(self.retriever, self.router, question, history, principal.groups,
                                                   k=top_k or self.top_k, mode=self.search_mode,
                                                   context_item=self._context_item, latencies=latencies)
        evidence = routed.evidence
        answer = Answer(request_id=request_id or uuid.uuid4().hex, text="", citations=[],
                        route=routed.decision.route, reasons=list(routed.decision.reasons),
                        level=str(routed.decision.level), model={}, latencies=latencies,
                        findings=_findings_summary(evidence.query, evidence.context))
        prep = _Prepared(question, history, list(hits), request, evidence, answer, routed.decision, started,
                         routed.prompt_tokens)
        self._settle(prep, routed.decision)
        return prep

    def _context_item(self, hit: SearchHit) -> ContextItem:
        """The router's view of a passage; its stored findings count only when its label stamp is current."""
        fresh = self.label_stamp is not None and hit.label_stamp == self.label_stamp and hit.findings is not None
        findings = tuple(Finding.from_dict(f) for f in hit.findings) if fresh else None
        return ContextItem(hit.chunk_id, passage_text(hit.title, hit.text), Level(hit.label), findings)

    def _settle(self, prep: _Prepared, decision: Decision) -> None:
        """Adopt `decision`: raise if it refuses, else trim the context to its budget and set citations."""
        prep.decision = decision
        prep.answer.route, prep.answer.reasons = decision.route, list(decision.reasons)
        prep.answer.level = str(decision.level)
        if decision.refused:
            error = self._refusal(decision)
            error.prepared = prep  # type: ignore[attr-defined] - read by `plan`
            raise error
        used, history = self._trimmed(prep, decision)
        prep.used = used
        prep.messages = build_messages(prep.question, history, used)
        prep.prompt_tokens = count_tokens(prep.messages)
        prep.answer.citations = [_citation(h) for h in used]
        prep.answer.chunk_ids = [h.chunk_id for h in used]
        prep.answer.model = self.backends[decision.route].model.to_dict()

    def _trimmed(self, prep: _Prepared, decision: Decision) -> tuple[list[SearchHit], list[dict[str, str]]]:
        """Passages (last first), then the oldest history turns, dropped until the prompt fits the decision's
        budget; a reason is added when even the question alone does not fit (nothing claims a fit that is not)."""
        used, history = capped(prep.hits, self.max_passages.get(decision.route)), list(prep.history)
        budget = decision.trim_to_tokens
        if budget is None:
            return used, history
        while used and count_tokens(build_messages(prep.question, history, used)) > budget:
            used.pop()
        while history and count_tokens(build_messages(prep.question, history, used)) > budget:
            history.pop(0)
        if len(history) < len(prep.history):
            prep.answer.reasons.append(f"dropped the {len(prep.history) - len(history)} oldest history message(s) "
                                       f"to fit the local budget of {budget} tokens")
        tokens = count_tokens(build_messages(prep.question, history, used))
        if tokens > budget:
            prep.answer.reasons.append(f"the question alone is {tokens} tokens, over the local budget of {budget}")
        return used, history

    def _on_decided_route(self, prep: _Prepared, call: Callable[[GenerationBackend], T]) -> T:
        """`call` the backend of the decided route; when it is unavailable, or the egress guard stops the
        payload, route again with that backend barred."""
        barred: set[str] = set()
        while True:
            try:
                return call(self.backends[prep.decision.route])
            except EgressBlocked as exc:
                prep.egress = exc.findings
                barred.add("server")
                self._reroute(prep, barred, f"{exc.reason}, policy re-checked")
            except BackendUnavailable as exc:
                barred.add(prep.decision.route)
                self._reroute(prep, barred, f"{prep.decision.route} backend failed during generation ({exc}); "
                                            "policy re-checked")

    def _dry_egress(self, prep: _Prepared) -> None:
        """The egress scan a server-bound plan would meet (dry run); re-routes as `_on_decided_route` does."""
        try:
            self.backends["server"].scan(prep.messages)  # type: ignore[attr-defined] - an EgressGuard
        except EgressBlocked as exc:
            prep.egress = exc.findings
            self._reroute(prep, {"server"}, f"{exc.reason}, policy re-checked")

    def _reroute(self, prep: _Prepared, barred: set[str], why: str) -> None:
        """Ask the router again with `barred` backends excluded; raise if it refuses."""
        again = self.router.route(prep.request, barred=barred, egress_findings=prep.egress,
                                  evidence=prep.evidence).decision
        self._settle(prep, Decision(again.route, (*prep.decision.reasons, why, *again.reasons), again.level,
                                    again.trim_to_tokens))

    def _health(self) -> dict[str, bool]:
        return {name: backend.health().ok for name, backend in self.backends.items()}

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


@dataclass(frozen=True)
class RoutePlan:
    """A dry run: where a request would go and what it would carry, without any text.

    Attributes:
        route, level, reasons: the decision (after the egress scan, for a server-bound plan).
        chunks: [{"chunk_id", "label", "doc_id"}] of the passages that would be sent, in prompt order.
        findings: entity types, offsets, scores and levels found (where: query or context).
        prompt_tokens: the prompt's size as the router counts it.
    """

    route: str
    level: str
    reasons: list[str]
    chunks: list[dict[str, str]]
    findings: list[dict]
    prompt_tokens: int

    @classmethod
    def of(cls, prep: _Prepared) -> "RoutePlan":
        used = prep.used if prep.decision.route != "refuse" else []
        chunks = [{"chunk_id": h.chunk_id, "doc_id": h.doc_id, "label": str(h.label)} for h in used]
        return cls(prep.decision.route, str(prep.decision.level), list(prep.decision.reasons), chunks,
                   list(prep.answer.findings), prep.prompt_tokens)

    def to_dict(self) -> dict:
        return asdict(self)


class _MarkedDown:
    """A backend that reports itself down and refuses to generate (the evaluation's local-path comparison)."""

    def __init__(self, backend: GenerationBackend) -> None:
        self._backend = backend

    def __getattr__(self, name: str) -> object:
        return getattr(self._backend, name)

    def health(self) -> BackendHealth:
        return BackendHealth(ok=False, detail="marked down (local-path comparison)")

    def generate(self, *args: object, **kwargs: object) -> Generation:
        raise BackendUnavailable("marked down (local-path comparison)", backend="server")

    stream = generate  # type: ignore[assignment]


def server_marked_down(assistant: Assistant) -> Assistant:
    """A copy of `assistant` whose server backend is down: the policy answers benign questions locally."""
    local = copy.copy(assistant)
    local.backends = {**assistant.backends, "server": _MarkedDown(assistant.backends["server"])}
    local.router = Router(local.detector, local.policy, local._health, timeout_s=local.detection_timeout_s)
    return local


def retrieve_and_route(retriever: "Retriever", router: Router, question: str, history: Sequence[Mapping[str, str]],
                       groups: Sequence[str] | None, *, k: int, mode: str,
                       context_item: Callable[[SearchHit], ContextItem],
                       latencies: dict[str, float]) -> tuple[list[SearchHit], RouteRequest, Routed]:
    """The query path before generation: retrieval, and the routing decision on the prompt it makes.

    What the user wrote does not depend on the hits, so its detection starts first and runs while
    retrieval does (in a detection worker process, or on a thread; the personal-matter classifier embeds with
    its own model, multilingual E5, not retrieval's); `Router.route` then waits for it,
    analyses the stale passages within what is left of the same budget, and decides. Sets
    `latencies["retrieve"]` and `latencies["route"]` (the wait after retrieval: detection left, policy).
    """
    user_texts = (question, *(m.get("content", "") for m in history))
    t0 = time.perf_counter()
    pending = router.start(user_texts)
    hits = retriever.search(question, groups=groups, k=k, mode=mode)
    latencies["retrieve"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    request = RouteRequest(user_texts, tuple(build_messages(question, history, hits)),
                           tuple(context_item(h) for h in hits))
    routed = router.route(request, evidence=pending)
    latencies["route"] = time.perf_counter() - t0
    return hits, request, routed


def capped(hits: Sequence[SearchHit], limit: int | None) -> list[SearchHit]:
    """The best-ranked `limit` passages of `hits` (all of them when `limit` is None)."""
    return list(hits if limit is None else hits[:limit])


def check_prompt_size(question: str, history: Sequence[Mapping[str, str]], limits: PromptLimits) -> None:
    """Raise `PromptTooLarge` when the history or the whole user input is over `limits`."""
    history_chars = sum(len(str(m.get("content", ""))) for m in history)
    if len(history) > limits.max_history_turns:
        raise PromptTooLarge(f"the conversation has {len(history)} earlier messages; the limit is "
                             f"{limits.max_history_turns}. Start a new conversation or drop old turns.", field="messages")
    if history_chars > limits.max_history_chars:
        raise PromptTooLarge(f"the conversation history has {history_chars} characters; the limit is "
                             f"{limits.max_history_chars}. Drop old turns.", field="messages")
    if history_chars + len(question) > limits.max_total_chars:
        raise PromptTooLarge(f"question and history have {history_chars + len(question)} characters; the limit "
                             f"is {limits.max_total_chars}. Shorten them.", field="messages")


def _citation(hit: SearchHit) -> Citation:
    snippet = " ".join(hit.text.split())
    if len(snippet) > SNIPPET_CHARS:
        snippet = snippet[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
    return Citation(doc_id=hit.doc_id, source=hit.source, title=hit.title, chunk_id=hit.chunk_id, snippet=snippet)


def _findings_summary(query: list[Finding] | None, context: list[Finding] | None) -> list[dict]:
    out = [{"where": "query", **f.to_dict()} for f in query or []]
    out += [{"where": "context", **f.to_dict()} for f in context or []]
    return out
