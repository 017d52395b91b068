"""The routing policy: a pure function from sensitivity evidence, prompt size and backend health to a route.

`decide` does no I/O and imports no detector; it is the single place that enforces
"nothing sensitive reaches the server". It fails closed:

* findings given as ``None`` mean detection failed or timed out: the request is sensitive;
* a sensitive request never falls back to the server; when the local backend is down it is refused;
* `egress_findings` are what the last scan of a server-bound payload found (see `routing.egress`):
  they count like query findings, so a payload the guard stopped is re-decided as sensitive;
* a missing entry in `backend_health` means that backend is down.

Every rule that fires adds a human-readable reason; reasons name entity types and levels, never text.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from routing.findings import Finding
from routing.levels import Level

Route = Literal["local", "server", "refuse"]
DETECTION_FAILED = "detection failed: treated as sensitive"


class RoutingPolicy(BaseModel):
    """Operator-tunable routing rules (defaults in routing/policy.yaml).

    Attributes:
        sensitive_level: requests at or above this level are sensitive and stay local.
        local_context_tokens: prompt size the local model handles comfortably; larger
            non-sensitive prompts go to the server, larger sensitive ones are trimmed to it.
        small_prompt_preference: where non-sensitive prompts within the local budget go.
            Default "server": the local node is the only place sensitive traffic can run, so
            non-sensitive traffic should not queue in front of it while the batching server has room.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    sensitive_level: Level = Level.CONFIDENTIAL
    local_context_tokens: int = Field(1536, gt=0)
    small_prompt_preference: Literal["local", "server"] = "server"

    @field_validator("sensitive_level", mode="before")
    @classmethod
    def _parse_level(cls, value: object) -> Level:
        return Level.parse(value)  # type: ignore[arg-type]

    @classmethod
    def from_yaml(cls, path: str | Path) -> "RoutingPolicy":
        """Load a policy from a YAML mapping of the fields above; unknown keys are an error."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"routing policy {path} not found; set RAG_ROUTING_POLICY_PATH or create it")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"routing policy {path} must be a YAML mapping of settings")
        return cls(**data)


@dataclass(frozen=True)
class Decision:
    """Where a request goes and why.

    Attributes:
        route: "local" (llama.cpp), "server" (vLLM) or "refuse" (nothing is generated).
        reasons: human-readable reasons, in the order the rules fired.
        level: the request's sensitivity level (max over query, context findings and labels).
        trim_to_tokens: when set, the caller must shrink the prompt to this many tokens.
    """

    route: Route
    reasons: tuple[str, ...]
    level: Level
    trim_to_tokens: int | None = None

    @property
    def refused(self) -> bool:
        return self.route == "refuse"


@dataclass(frozen=True)
class _Evidence:
    level: Level
    sensitive: bool
    reasons: tuple[str, ...]


def decide(
    query_findings: Sequence[Finding] | None,
    context_findings: Sequence[Finding] | None,
    context_labels: Sequence[Level | str] | Mapping[str, Level | str],
    prompt_tokens: int,
    backend_health: Mapping[str, bool],
    policy: RoutingPolicy,
    egress_findings: Sequence[Finding] | None = (),
) -> Decision:
    """Decide the route of one request.

    Args:
        query_findings: findings in the user's question, or None if detection failed/timed out.
        context_findings: findings in the retrieved context, or None if detection failed/timed out.
        context_labels: stored labels of the retrieved chunks (a sequence, or chunk id -> label).
        prompt_tokens: size of the full prompt (question + context) in tokens.
        backend_health: {"local": bool, "server": bool}; a missing key means down.
        policy: the routing rules.
        egress_findings: findings of the egress scan of a server-bound payload (None: that scan
            failed or timed out); empty when no payload was scanned.

    Returns:
        The decision with its reasons. Never raises for a down backend: it refuses instead.
    """
    if prompt_tokens < 0:
        raise ValueError(f"prompt_tokens must be >= 0, got {prompt_tokens}")
    evidence = _gather(query_findings, context_findings, egress_findings, context_labels, policy)
    local_up = bool(backend_health.get("local", False))
    server_up = bool(backend_health.get("server", False))
    if evidence.sensitive:
        return _route_sensitive(evidence, prompt_tokens, local_up, policy)
    return _route_non_sensitive(evidence, prompt_tokens, local_up, server_up, policy)


def _gather(query_findings, context_findings, egress_findings, context_labels, policy: RoutingPolicy) -> _Evidence:
    threshold = policy.sensitive_level
    reasons: list[str] = []
    levels: list[Level] = []
    failed = False
    for where, findings in (("query", query_findings), ("context", context_findings),
                            ("server-bound payload", egress_findings)):
        if findings is None:
            failed = True
            reasons.append(f"{where} {DETECTION_FAILED}")
            levels.append(threshold)
            continue
        for entity, level, rule in _strongest_by_entity(findings):
            levels.append(level)
            if level >= threshold:
                via = f" via {rule}" if rule else ""
                reasons.append(f"{where} contains {entity} ({level}{via}) >= {threshold}")
    for chunk, label in _labels(context_labels):
        levels.append(label)
        if label >= threshold:
            name = f"context chunk {chunk}" if chunk else "context chunk"
            reasons.append(f"{name} label {label} >= {threshold}")
    level = max(levels, default=Level.PUBLIC)
    sensitive = failed or level >= threshold
    if not sensitive:
        reasons.append(f"highest level {level} < {threshold}: not sensitive")
    return _Evidence(level, sensitive, tuple(reasons))


def _strongest_by_entity(findings: Sequence[Finding]) -> list[tuple[str, Level, str | None]]:
    best: dict[str, tuple[Level, str | None]] = {}
    for f in findings:
        level = Level.parse(f.level)
        if f.entity_type not in best or level > best[f.entity_type][0]:
            best[f.entity_type] = (level, f.rule)
    return sorted(((e, lv, rule) for e, (lv, rule) in best.items()), key=lambda item: (-item[1], item[0]))


def _labels(context_labels) -> list[tuple[str | None, Level]]:
    if isinstance(context_labels, Mapping):
        return [(str(k), Level.parse(v)) for k, v in context_labels.items()]
    return [(None, Level.parse(v)) for v in context_labels]


def _route_sensitive(ev: _Evidence, tokens: int, local_up: bool, policy: RoutingPolicy) -> Decision:
    budget = policy.local_context_tokens
    if local_up:
        reasons = [*ev.reasons, f"sensitive ({ev.level}): kept local"]
        trim = None
        if tokens > budget:
            trim = budget
            reasons.append(f"prompt {tokens} tokens > local budget {budget}: trimmed to fit the local model")
        return Decision("local", tuple(reasons), ev.level, trim_to_tokens=trim)
    reasons = [*ev.reasons, "local backend down: sensitive request refused, not sent to the server"]
    return Decision("refuse", tuple(reasons), ev.level)


def _route_non_sensitive(ev: _Evidence, tokens: int, local_up: bool, server_up: bool, policy: RoutingPolicy) -> Decision:
    budget = policy.local_context_tokens
    reasons = list(ev.reasons)
    if tokens > budget:
        preferred: Route = "server"
        reasons.append(f"prompt {tokens} tokens > local budget {budget}: server")
    else:
        preferred = policy.small_prompt_preference
        reasons.append(f"prompt {tokens} tokens <= local budget {budget}: {preferred} (small_prompt_preference)")
    up = {"local": local_up, "server": server_up}
    if up[preferred]:
        return Decision(preferred, tuple(reasons), ev.level)
    other: Route = "local" if preferred == "server" else "server"
    if not up[other]:
        reasons.append("local and server backends both down: refused")
        return Decision("refuse", tuple(reasons), ev.level)
    reasons.append(f"{preferred} backend down: {other} instead")
    trim = None
    if other == "local" and tokens > budget:
        trim = budget
        reasons.append(f"prompt trimmed to the local budget of {budget} tokens")
    return Decision(other, tuple(reasons), ev.level, trim_to_tokens=trim)


__all__ = ["Decision", "RoutingPolicy", "Route", "decide", "DETECTION_FAILED"]
