"""The route decision for a bare prompt (no retrieved context), as the routing suite evaluates it.

Uses the assistant's own `route_only(text)` when it has one; otherwise composes the real detector
with the real policy, both backends reported healthy, so the suite measures detection and policy,
not which servers happen to be up.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

HEALTHY = {"local": True, "server": True}


def estimate_tokens(text: str) -> int:
    """Rough prompt size in tokens (about four characters each) for the policy's size rule."""
    return len(text) // 4 + 1


def compose_route(detector: Any, policy: Any, timeout_s: float | None = None) -> Callable[[str], Any]:
    """text -> `routing.policy.Decision` from `detector.detect` and `routing.policy.decide`.

    A detection error is passed on as ``None`` findings, which the policy treats as sensitive.
    """
    from routing.errors import DetectionError
    from routing.policy import decide

    def route(text: str) -> Any:
        try:
            findings = detector.detect(text, timeout_s=timeout_s)
        except DetectionError:
            findings = None
        return decide(findings, [], [], estimate_tokens(text), HEALTHY, policy)

    return route


def route_function(runtime: Any) -> Callable[[str], Any]:
    """The routing suite's decision function for `runtime` (see the module docstring)."""
    assistant = getattr(runtime, "assistant", None)
    if assistant is not None and hasattr(assistant, "route_only"):
        return assistant.route_only
    from routing.policy import RoutingPolicy

    settings = runtime.settings
    policy = RoutingPolicy.from_yaml(settings.routing_policy_path)
    return compose_route(runtime.detector, policy, settings.detection_timeout_s)
