"""The shared-credential classifier's pure parts: the secret-shaped tokens it needs, its training rows, and
a one-label model (fake vectors: the training logic only; the real model is tested in
test_detect_generalized.py)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from routing.personal_matters import train_rows
from routing.shared_secret import LABEL, NONE, routing_rows, value_candidates


@pytest.mark.parametrize("text, tokens", [
    ("first part: Mistral881\nsecond part: ...", ["Mistral881"]),
    ("i keep typing bluejay42 and it says wrong.", ["bluejay42"]),
    ("the code was 7713!! yesterday", ["7713!!"]),
    ("it begins Otter#55. then gumdrop9x", ["Otter#55", "gumdrop9x"]),
])
def test_when_a_token_is_shaped_like_a_typed_secret_then_it_is_a_candidate(text, tokens):
    assert [text[a:b] for a, b in value_candidates(text)] == tokens


@pytest.mark.parametrize("text", [
    "curl -H 'Authorization: Bearer $API_TOKEN' https://api.acme.test/v1",  # a variable, a URL
    "deploy to eu-west-2 from worker-3 after v3.10.2 ships",                 # a region, an index, a version
    "timeout after 4500ms on build 9c41f0a2e7 (0x80004005)",                 # a quantity, hex
    "see ticket OPS-40017 and INC0091245 in #release-notes, model RT-AX58U",  # ticket keys, a channel, a model
    "fill in pg-main.internal.test and ops@acme.test",                       # a dotted host, an e-mail
    "the mask shows ghp_********Zx91",                                       # a masked value
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq2Wv8Lr4Tn0Yb7Mc3Xk9Pd1Fs6Gh5Jz2 ci",  # a public key's type
    "how do I reset my vpn password?",                                       # no value at all
])
def test_when_a_token_is_code_a_name_or_a_quantity_then_no_candidate(text):
    assert value_candidates(text) == []


def test_when_routing_prompts_read_then_only_secrets_are_credentials(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "text": "pw Kettle#19", "sensitive": True, "kind": "secret"},
        {"id": "b", "text": "SSN 536-90-4399", "sensitive": True, "kind": "identifier"},
        {"id": "c", "text": "how do I reset a password?", "sensitive": False, "kind": "secret"},
    ]) + "\n", encoding="utf-8")

    rows, sha = routing_rows([path])

    assert [r["label"] for r in rows] == [LABEL, NONE, NONE]
    assert sha == routing_rows([path])[1] and len(sha) == 64


def test_when_a_routing_prompt_has_no_text_then_the_line_is_named(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "a", "sensitive": true}\n', encoding="utf-8")

    with pytest.raises(ValueError, match="p.jsonl:1"):
        routing_rows([path])


def test_when_trained_on_one_label_then_a_yes_no_model_with_that_topic():
    rng = np.random.default_rng(0)
    rows = [{"id": f"r{i}", "text": ("secret value" if i % 2 else "plain question") + f" {i}",
             "label": LABEL if i % 2 else NONE} for i in range(60)]
    vectors = {r["text"]: (rng.normal(1.0 if r["label"] == LABEL else -1.0, 0.3, 8)).astype(np.float32) for r in rows}

    model = train_rows(rows, "sha", lambda texts: np.stack([vectors[t] for t in texts]), "fake")
    scores, topics = model.matter_scores(["secret value 1", "plain question 2"],
                                         np.stack([vectors["secret value 1"], vectors["plain question 2"]]))

    assert model.topics == (LABEL,) and set(topics) == {LABEL}
    assert scores[0] > 0.5 > scores[1]


def test_when_the_model_file_is_read_then_it_was_trained_on_the_current_routing_sets():
    from rag.cli.detect_cmds import CREDENTIAL_MODEL_FILE, credential_training_files
    from routing.personal_matters import PersonalMatterModel

    model = PersonalMatterModel.load(CREDENTIAL_MODEL_FILE)

    assert model.training_sha256 == routing_rows(credential_training_files())[1], (
        "routing/credential_model.json is stale: run `rag detect train-credentials`")
    assert model.topics == (LABEL,) and model.embedder
