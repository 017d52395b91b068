"""detect-secrets behind `find_secrets`: real secrets found with their spans, prose and placeholders not."""
from __future__ import annotations

import pytest

from routing.secret_scan import SecretScanConfig, find_secrets, shannon_entropy

CONFIG = SecretScanConfig()


@pytest.mark.parametrize(
    "text, secret",
    [
        ("aws key AKIAZ7Q2MXK4PL9WBN3D in the log", "AKIAZ7Q2MXK4PL9WBN3D"),
        ('db_password = "Vq8#rT2m!xL4pZ9w"', "Vq8#rT2m!xL4pZ9w"),
        ("curl https://ops:Kd83jsPq2@internal.example/api", "Kd83jsPq2"),
        ("-----BEGIN RSA PRIVATE KEY-----", "BEGIN RSA PRIVATE KEY"),
        ("first line\nsecond has ghp_8fK2mQ9xR1tY6uW3zA8bC5dE0hJ4nL7pS2vX here", "ghp_8fK2mQ9xR1tY6uW3zA8bC5dE0hJ4nL7pS2vX"),
    ],
)
def test_when_text_holds_a_secret_then_its_span_is_found(text, secret):
    spans = find_secrets(text, CONFIG)

    assert secret in {text[s.start:s.end] for s in spans}, spans


@pytest.mark.parametrize(
    "text",
    [
        "Kevin Park was put on a performance improvement plan",
        "How do I reset my password?",
        "password = os.environ['DB_PASSWORD']",
        "token: ${GITHUB_TOKEN}",
        "The commit 3f9c2e1b8d4f6a0c5e9b2d7f1a3c8e4b9d2f7a1c broke the build.",
        "request id 123e4567-e89b-12d3-a456-426614174000 failed",
    ],
)
def test_when_prose_or_reference_then_no_secret(text):
    assert find_secrets(text, CONFIG) == []


def test_when_entropy_measured_then_random_strings_score_higher_than_words():
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("kX9#qL2!vR7p") > shannon_entropy("performance")
