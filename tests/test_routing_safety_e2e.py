"""End to end, against the real vLLM server behind a recording proxy: nothing sensitive reaches it.

The assistant runs with every real part (embedder, FAISS on disk, Presidio, llama.cpp, vLLM). The proxy
keeps every request body the server received; afterwards we check that none contains a sensitive
prompt or any text of a confidential chunk, while benign large-context prompts did reach the server
and were answered.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.config import Settings
from rag.runtime import Runtime
from rag.types import Principal
from routing.errors import RefusedError

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

DATA = Path(__file__).resolve().parent.parent / "data"
PUBLIC = ["public/returns-refund-policy.md", "public/travel-policy.md", "public/remote-work-policy.md",
          "public/code-of-conduct.md", "public/faq.md", "public/api-quickstart.md"]
CONFIDENTIAL = ["hr/salary-review-2024-sofia-marchetti.txt", "hr/sick-leave-q3-2024.txt",
                "finance/payroll-export-2024-10-eu.txt", "hr/onboarding-checklist-arjun-mehta.md"]
# Benign wording, but the answer lives in confidential documents: the stored labels must keep them local.
BENIGN_OVER_CONFIDENTIAL = ["What does the 2024 salary review say about the Payments Team lead?",
                            "Summarise the sick leave records for the third quarter.",
                            "Which bank accounts are in the October payroll export?"]
BENIGN_LARGE = ["Summarise our travel, remote work and returns policies in one paragraph.",
                "What do the code of conduct and the FAQ say about customer refunds and expenses?"]


def _sensitive_prompts(n: int) -> list[str]:
    rows = []
    for name in ("prompts.jsonl", "generated.jsonl"):
        rows += [json.loads(line) for line in (DATA / "routing" / name).read_text().splitlines() if line.strip()]
    sensitive = [r["text"] for r in rows if r["sensitive"]]
    step = max(1, len(sensitive) // n)
    return sensitive[::step][:n]  # spread over every category, deterministic


@pytest.fixture
def assistant_and_proxy(tmp_path, recording_vllm):
    base_url, bodies = recording_vllm
    home = tmp_path / "rag-home"
    corpus = home / "corpus"
    for rel in PUBLIC + CONFIDENTIAL:
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / "corpus" / rel, corpus / rel)
    settings = Settings(home=home, vllm_url=base_url, search_mode="hybrid", ingest_graph=False,
                        max_new_tokens=24)
    runtime = Runtime(settings)
    report = runtime.ingestor.ingest_paths([corpus / "public"], groups=["all"], classification="public")
    assert report.ok
    report = runtime.ingestor.ingest_paths([corpus / "hr", corpus / "finance"], groups=["hr"],
                                           classification="confidential")
    assert report.ok
    secret_texts = [chunk.text for rel in CONFIDENTIAL
                    for chunk in runtime.store.document_chunks(runtime.store.get_document(Path(rel).name).doc_id)]
    assert secret_texts
    return runtime.assistant, bodies, secret_texts


def _sent_text(bodies: list[str]) -> list[str]:
    """The message contents of every chat request the server received."""
    out = []
    for body in bodies:
        if body.strip().startswith("{"):
            payload = json.loads(body)
            out.append("\n".join(m.get("content", "") for m in payload.get("messages", [])) + payload.get("prompt", ""))
    return out


def test_when_prompts_are_sensitive_or_context_confidential_then_server_receives_none_of_it(assistant_and_proxy):
    assistant, bodies, secret_texts = assistant_and_proxy
    reader = Principal("hr-reader", ("all", "hr"))
    routes = {}
    for prompt in _sensitive_prompts(24) + BENIGN_OVER_CONFIDENTIAL:
        try:
            routes[prompt] = assistant.answer(prompt, reader).route
        except RefusedError:
            routes[prompt] = "refuse"
    assert set(routes.values()) <= {"local", "refuse"}, {p[:40]: r for p, r in routes.items() if r == "server"}
    assert list(routes.values()).count("local") >= len(routes) - 2  # the local model answered them

    employee = Principal("employee", ("all",))  # sees only public documents
    for prompt in BENIGN_LARGE:
        answer = assistant.answer(prompt, employee, top_k=12)
        assert answer.route == "server", answer.reasons
        assert answer.text, "the server answered with an empty text"
        assert any("local budget" in r for r in answer.reasons)

    sent = _sent_text(bodies)
    assert len(sent) >= len(BENIGN_LARGE)  # the benign large-context prompts did reach the server
    for text in sent:
        for prompt in routes:
            assert prompt not in text
        for secret in secret_texts:
            assert " ".join(secret.split())[:200] not in " ".join(text.split())
