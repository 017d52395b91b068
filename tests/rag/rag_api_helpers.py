"""Helpers for the HTTP-layer tests: the real app over real SQLite stores, with small stand-ins for the models.

`FakeAssistant` and `HashEmbedder` are for tests of the HTTP layer only (auth, errors, SSE framing,
audit, documents ACL); the end-to-end tests (test_api_e2e.py) use the real assistant and models.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.testclient import TestClient

from hash_embedder import HashEmbedder
from indexing.ingest import Ingestor
from indexing.store import IndexStore
from rag.api import create_app
from rag.config import Settings
from rag.runtime import Runtime
from rag.types import Answer, Citation, Principal


@dataclass
class FakeAssistant:
    """Stands in for rag.assistant.Assistant: canned answers, or raises `error` when set."""

    error: Exception | None = None
    deltas: tuple[str, ...] = ("Hel", "lo", "!")
    health_result: dict = field(default_factory=lambda: {"local": {"ok": True, "detail": "loaded"},
                                                         "server": {"ok": False, "detail": "down"}})
    calls: list = field(default_factory=list)

    def _answer(self, question: str, principal: Principal, request_id: str | None, text: str) -> Answer:
        citation = Citation(doc_id="d1", source="policy.md", title="Policy", chunk_id="c1", snippet="snippet")
        return Answer(request_id=request_id or "rid", text=text, citations=[citation], route="local",
                      reasons=["highest level internal < confidential: not sensitive",
                               "prompt 20 tokens <= local budget 1500: local (small_prompt_preference)"],
                      level="internal", model={"name": "fake-local", "version": "1"},
                      latencies={"retrieve": 0.01, "generate": 0.02, "total": 0.03},
                      usage={"prompt_tokens": 11, "completion_tokens": 3}, chunk_ids=["c1"])

    def answer(self, question, principal, *, top_k=None, history=None, request_id=None) -> Answer:
        self.calls.append({"question": question, "principal": principal, "top_k": top_k, "history": history})
        if self.error is not None:
            raise self.error
        return self._answer(question, principal, request_id, f"answer for {principal.name}")

    def stream(self, question, principal, *, top_k=None, history=None, request_id=None):
        self.calls.append({"question": question, "principal": principal, "top_k": top_k, "history": history})
        if self.error is not None:
            raise self.error
        answer = self._answer(question, principal, request_id, "")

        def pieces() -> Iterator[str]:
            yield from self.deltas
            answer.text = "".join(self.deltas)

        return answer, pieces()

    def plan(self, question, principal, *, top_k=None, history=None, request_id=None):
        from rag.assistant import RoutePlan

        self.calls.append({"question": question, "principal": principal, "top_k": top_k, "history": history})
        if self.error is not None:
            raise self.error
        return RoutePlan("local", "internal", ["highest level internal < confidential: not sensitive"],
                         [{"chunk_id": "c1", "doc_id": "d1", "label": "internal"}], [], 42)

    def health(self) -> dict:
        return self.health_result


def tiny_registry(folder: Path) -> Path:
    """A models.yaml naming small files, one per role (hashing the real models costs ~1 s per app)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["models:"]
    for role in ("local", "server", "embedding", "spacy"):
        (folder / f"{role}.bin").write_bytes(role.encode() * 10)
        lines += [f"  - name: tiny-{role}", f"    role: {role}", f"    path: {folder / (role + '.bin')}",
                  '    version: "1"']
    path = folder / "models.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def build_runtime(home: Path, assistant: FakeAssistant | None = None, **overrides) -> Runtime:
    """A Runtime over `home` with a real IndexStore and Ingestor (hash embedder) and a fake assistant."""
    overrides.setdefault("models_registry_path", tiny_registry(home / "registry"))
    overrides.setdefault("search_mode", "hybrid")  # no knowledge graph: it would load spaCy
    settings = Settings(home=home, api_warm_up=False, **overrides)
    runtime = Runtime(settings)
    embedder = HashEmbedder()
    store = IndexStore(settings.index_dir, dim=embedder.dim)
    runtime.embedder = embedder
    runtime.store = store
    runtime.ingestor = Ingestor(store=store, embedder=embedder, labeler=None,
                                max_file_bytes=settings.max_file_bytes, chunk_max_tokens=60, chunk_overlap_tokens=10)
    runtime.assistant = assistant or FakeAssistant()
    return runtime


@dataclass
class Service:
    """A running app (TestClient) with one API key per role/group."""

    client: TestClient
    runtime: Runtime
    keys: dict[str, str]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[user]}"}


USERS = {  # name: (groups, role)
    "emp_a": (("team-a",), "employee"),
    "emp_b": (("team-b",), "employee"),
    "km_a": (("team-a",), "knowledge_manager"),
    "km_b": (("team-b",), "knowledge_manager"),
    "admin": (("ops",), "admin"),
}


def start_service(runtime: Runtime) -> Service:
    """Create the app over `runtime`, add the standard users, enter the TestClient (lifespan runs)."""
    app = create_app(runtime=runtime)
    keys = {name: app.state.rag.users.add_user(name, groups, role) for name, (groups, role) in USERS.items()}
    client = TestClient(app, raise_server_exceptions=False)
    client.__enter__()
    return Service(client=client, runtime=runtime, keys=keys)
