"""Table-driven tests of the pure routing policy: every rule and every failure mode."""
from __future__ import annotations

from pathlib import Path

import pytest

from routing.findings import Finding
from routing.levels import Level
from routing.policy import DETECTION_FAILED, RoutingPolicy, decide

POLICY = RoutingPolicy()  # sensitive_level confidential, budget 1536, small prompts -> server
LOCAL_FIRST = RoutingPolicy(small_prompt_preference="local")
UP = {"local": True, "server": True}
LOCAL_DOWN = {"local": False, "server": True}
SERVER_DOWN = {"local": True, "server": False}
BOTH_DOWN = {"local": False, "server": False}


def finding(entity: str, level: Level, score: float = 0.9) -> Finding:
    return Finding(entity_type=entity, start=0, end=5, score=score, level=level, recognizer="test")


SSN = finding("US_SSN", Level.RESTRICTED)
SALARY = finding("SALARY", Level.CONFIDENTIAL)
PERSON = finding("PERSON", Level.INTERNAL)
DATE = finding("DATE_TIME", Level.PUBLIC)
ESCALATED = Finding("PERSON", 0, 5, 0.85, Level.CONFIDENTIAL, "SpacyRecognizer", rule="person_with_compensation")


@pytest.mark.parametrize(
    "query, context, labels, tokens, health, policy, route, level, trim",
    [
        # sensitivity from the query, the context findings, the stored labels
        ([SSN], [], [], 100, UP, POLICY, "local", Level.RESTRICTED, None),
        ([], [SALARY], [], 100, UP, POLICY, "local", Level.CONFIDENTIAL, None),
        ([], [], [Level.CONFIDENTIAL], 100, UP, POLICY, "local", Level.CONFIDENTIAL, None),
        ([], [], ["restricted"], 3000, UP, POLICY, "local", Level.RESTRICTED, 1536),
        # below the sensitive level: routed by size and preference
        ([PERSON], [DATE], [Level.INTERNAL], 100, UP, POLICY, "server", Level.INTERNAL, None),
        ([PERSON], [], [], 100, UP, LOCAL_FIRST, "local", Level.INTERNAL, None),
        ([], [], [], 3200, UP, LOCAL_FIRST, "server", Level.PUBLIC, None),
        ([], [], [], 1536, UP, LOCAL_FIRST, "local", Level.PUBLIC, None),
        ([], [], [], 1537, UP, LOCAL_FIRST, "server", Level.PUBLIC, None),
        # a stricter threshold makes internal sensitive
        ([PERSON], [], [], 100, UP, RoutingPolicy(sensitive_level="internal"), "local", Level.INTERNAL, None),
        # detection failed or timed out: sensitive
        (None, [], [], 100, UP, POLICY, "local", Level.CONFIDENTIAL, None),
        ([], None, [], 100, UP, POLICY, "local", Level.CONFIDENTIAL, None),
        (None, [], [], 100, LOCAL_DOWN, POLICY, "refuse", Level.CONFIDENTIAL, None),
        # backend failures
        ([SSN], [], [], 100, LOCAL_DOWN, POLICY, "refuse", Level.RESTRICTED, None),
        ([], [], [Level.CONFIDENTIAL], 100, LOCAL_DOWN, POLICY, "refuse", Level.CONFIDENTIAL, None),
        ([SSN], [], [], 100, BOTH_DOWN, POLICY, "refuse", Level.RESTRICTED, None),
        ([], [], [], 3200, SERVER_DOWN, POLICY, "local", Level.PUBLIC, 1536),
        ([], [], [], 100, SERVER_DOWN, POLICY, "local", Level.PUBLIC, None),
        ([], [], [], 100, {"server": True}, LOCAL_FIRST, "server", Level.PUBLIC, None),
        ([], [], [], 100, BOTH_DOWN, POLICY, "refuse", Level.PUBLIC, None),
        ([], [], [], 100, {}, POLICY, "refuse", Level.PUBLIC, None),
        ([SSN], [], [], 100, {}, POLICY, "refuse", Level.RESTRICTED, None),
    ],
    ids=[
        "query_ssn_local", "context_salary_local", "label_only_confidential_local", "label_restricted_large_trimmed",
        "internal_small_to_server", "internal_small_local_first", "public_large_server", "budget_edge_local",
        "budget_edge_plus_one_server", "stricter_threshold", "query_detection_failed", "context_detection_failed",
        "detection_failed_local_down", "sensitive_local_down", "label_only_local_down", "sensitive_both_down",
        "large_server_down_trimmed_local", "small_server_down_local", "local_missing_from_health",
        "public_both_down", "empty_health_refuses", "sensitive_empty_health_refuses",
    ],
)
def test_when_inputs_then_route(query, context, labels, tokens, health, policy, route, level, trim):
    decision = decide(query, context, labels, tokens, health, policy)

    assert (decision.route, decision.level, decision.trim_to_tokens) == (route, level, trim)
    assert decision.reasons and all(isinstance(r, str) and r for r in decision.reasons)


@pytest.mark.parametrize(
    "query, context, labels, tokens, health, expected",
    [
        ([SSN], [], [], 100, UP, "query contains US_SSN (restricted) >= confidential"),
        ([SSN], [], [], 100, UP, "sensitive (restricted): kept local"),
        ([], [SALARY], [], 100, UP, "context contains SALARY (confidential) >= confidential"),
        ([], [], {"c-7": "confidential"}, 100, UP, "context chunk c-7 label confidential >= confidential"),
        ([], [], [Level.CONFIDENTIAL], 100, UP, "context chunk label confidential >= confidential"),
        (None, [], [], 100, UP, f"query {DETECTION_FAILED}"),
        ([], None, [], 100, UP, f"context {DETECTION_FAILED}"),
        ([SSN], [], [], 100, LOCAL_DOWN, "local backend down: sensitive request refused, not sent to the server"),
        ([], [], [], 3200, UP, "prompt 3200 tokens > local budget 1536: server"),
        ([], [], [], 3200, SERVER_DOWN, "server backend down: local instead"),
        ([], [], [], 3200, SERVER_DOWN, "prompt trimmed to the local budget of 1536 tokens"),
        ([], [], [], 100, BOTH_DOWN, "local and server backends both down: refused"),
        ([PERSON], [], [], 100, UP, "highest level internal < confidential: not sensitive"),
        ([ESCALATED], [], [], 100, UP, "query contains PERSON (confidential via person_with_compensation) >= confidential"),
        ([], [], ["restricted"], 3000, UP, "prompt 3000 tokens > local budget 1536: trimmed to fit the local model"),
    ],
)
def test_when_rule_fires_then_reason_says_so(query, context, labels, tokens, health, expected):
    decision = decide(query, context, labels, tokens, health, POLICY)

    assert expected in decision.reasons


def test_when_sensitive_and_server_up_but_local_down_then_never_server():
    for query in ([SSN], [SALARY], None):
        for labels in ([], [Level.RESTRICTED]):
            decision = decide(query, [], labels, 10, LOCAL_DOWN, POLICY)
            assert decision.route == "refuse"


@pytest.mark.parametrize(
    "egress, health, route, reason",
    [
        ([SSN], SERVER_DOWN, "local", "server-bound payload contains US_SSN (restricted) >= confidential"),
        (None, SERVER_DOWN, "local", "server-bound payload detection failed: treated as sensitive"),
        ([SALARY], BOTH_DOWN, "refuse", "local backend down: sensitive request refused, not sent to the server"),
    ],
    ids=["egress_ssn_local", "egress_scan_failed_local", "egress_salary_local_down_refused"],
)
def test_when_egress_scan_finds_sensitive_payload_then_never_server(egress, health, route, reason):
    decision = decide([], [], [], 100, health, POLICY, egress_findings=egress)

    assert decision.route == route
    assert reason in decision.reasons


def test_when_egress_findings_below_level_then_they_do_not_make_it_sensitive():
    decision = decide([], [], [], 100, UP, POLICY, egress_findings=[PERSON])

    assert decision.route == "server"


def test_when_policy_yaml_has_mask_mode_then_error_names_it(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("mask_mode: true\n")

    with pytest.raises(ValueError, match="mask_mode"):
        RoutingPolicy.from_yaml(path)


def test_when_prompt_tokens_negative_then_value_error():
    with pytest.raises(ValueError, match="prompt_tokens"):
        decide([], [], [], -1, UP, POLICY)


def test_when_default_yaml_loaded_then_matches_documented_defaults():
    policy = RoutingPolicy.from_yaml(Path(__file__).resolve().parents[2] / "routing" / "policy.yaml")

    assert policy == RoutingPolicy()
    assert policy.sensitive_level is Level.CONFIDENTIAL


@pytest.mark.parametrize(
    "content, error",
    [
        ("sensitive_level: secret\n", "unknown classification"),
        ("local_context_tokens: 0\n", "greater than 0"),
        ("small_prompt_preference: gpu\n", "small_prompt_preference"),
        ("surprise: 1\n", "surprise"),
        ("- a list\n", "mapping"),
    ],
)
def test_when_policy_yaml_invalid_then_error_names_the_problem(tmp_path, content, error):
    path = tmp_path / "policy.yaml"
    path.write_text(content)

    with pytest.raises(ValueError, match=error):
        RoutingPolicy.from_yaml(path)


def test_when_policy_file_missing_then_error_says_which_setting():
    with pytest.raises(FileNotFoundError, match="RAG_ROUTING_POLICY_PATH"):
        RoutingPolicy.from_yaml("/nonexistent/policy.yaml")
