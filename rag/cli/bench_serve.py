"""`rag bench serve`: the real HTTP API under concurrent load, and the server path against vLLM direct.

In one run: a fresh RAG_HOME gets the corpus ingested (`rag ingest`) and one employee user per client (each
client is a colleague with an API key of their own, under the per-key limits); `rag serve` starts
as a subprocess; then
1. mixed load: `--clients` concurrent clients send `/v1/query` requests alternating sensitive questions
   (a fake SSN or a named employee: local route) and benign ones (server route): latency p50/p95/p99 per
   route, requests/s, answers by HTTP status, the server's peak RSS;
2. server path: `--benign-clients` concurrent clients send the benign questions that went to the server
   when each was asked alone before the load (retrieved context can make a benign question local)
   through the API, then the same
   prompts (retrieved and assembled in this process exactly as the assistant does) go straight to vLLM at
   the same concurrency: the ratio of aggregate completion tokens/s (API / direct). It is like-for-like
   only when every API request was answered on the server; otherwise the report says how many were not
   and the policy's reason (an egress scan over its budget under load bars the server: fail closed).
The API reaches vLLM through a recording proxy (`rag.recording_proxy`): the report counts the chat
requests it forwarded and how many of them carried a sensitive question (the promise: 0, also while the
local queue is full and sensitive requests get 503).
vLLM must be running at RAG_VLLM_URL (`rag vllm start --wait`, or `--start-vllm` here: it is stopped after).
"""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click
import httpx

from rag.cli import common
from rag.recording_proxy import RecordingProxy

SENSITIVE = (
    "My SSN is 536-90-4399: how many days of parental leave can I take?",
    "What salary band applies to Sofia Marquez, employee 48213, this year?",
    "Call me on +1 202-555-0143 about my sick leave: how do I report it?",
    "My IBAN is DE89 3704 0044 0532 0130 00, when are travel expenses reimbursed?",
)
BENIGN = (
    "How many days do customers have to return an item?",
    "What is the travel policy for booking flights?",
    "How is an incident severity decided?",
    "Which team owns the deployment pipeline?",
)


@click.command("serve")
@click.option("--clients", default=16, show_default=True, help="Concurrent clients in the mixed run.")
@click.option("--requests", "per_client", default=3, show_default=True, help="Requests per client and run.")
@click.option("--benign-clients", default=8, show_default=True, help="Concurrency of the API-vs-direct run.")
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder to ingest [settings.corpus_dir].")
@click.option("--port", default=0, type=int, help="Port for `rag serve` [a free one].")
@click.option("--start-vllm", is_flag=True, help="Start vLLM (RAG_VLLM_PORT) for the run and stop it after.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_serve_cmd(clients: int, per_client: int, benign_clients: int, corpus: Path | None, port: int,
                    start_vllm: bool, as_json: bool) -> None:
    """Latency per route, req/s, errors and RSS under concurrent load; API vs direct vLLM tokens/s."""
    settings = common.settings()
    corpus = corpus or settings.corpus_dir
    vllm = _start_vllm(settings) if start_vllm else None
    try:
        with_vllm = _vllm_ready(settings.vllm_url)
        if not with_vllm:
            click.echo(f"warning: no vLLM answers at {settings.vllm_url} (`rag vllm start --wait` or --start-vllm): "
                       "mixed load only, benign requests fall back to the local model", err=True)
        with tempfile.TemporaryDirectory(prefix="rag-bench-serve-") as home:
            report = _run(settings, corpus, Path(home), port or _free_port(), clients, per_client,
                          benign_clients if with_vllm else 0)
    finally:
        if vllm is not None:
            vllm.stop()
    common.emit(report, as_json, _text(report))


def _run(settings: Any, corpus: Path, home: Path, port: int, clients: int, per_client: int,
         benign_clients: int) -> dict:
    with RecordingProxy(_server_root(settings.vllm_url)) as proxy:
        env = {**os.environ, "RAG_HOME": str(home), "RAG_VLLM_URL": f"{proxy.root}/v1"}
        report = _run_api(env, corpus, port, clients, per_client, benign_clients)
        report["recording_proxy"] = _proxy_counts(proxy)
    api = report["server_path"]
    if api is not None:
        direct = _direct(settings, env, api["questions"], benign_clients)
        api_tps, direct_tps = api["completion_tokens_per_s"], direct["completion_tokens_per_s"]
        report["server_path"] = {"clients": benign_clients, "api": api, "direct_vllm": direct,
                                 "like_for_like": api["routes"] == {"server": api["requests"]},
                                 "ratio_api_to_direct": round(api_tps / direct_tps, 3) if direct_tps else None}
    return {"clients": clients, "requests_per_client": per_client, **report, "vllm_url": settings.vllm_url,
            "local_queue": {"depth": settings.local_queue_depth, "wait_s": settings.local_queue_wait_s}}


def _run_api(env: dict, corpus: Path, port: int, clients: int, per_client: int, benign_clients: int) -> dict:
    """Ingest, users, `rag serve`; the mixed run, then the benign API run (when `benign_clients`)."""
    _rag(env, "ingest", str(corpus))
    keys = [json.loads(_rag(env, "users", "add", f"bench-{i}", "--groups", "all,engineering", "--json"))["api_key"]
            for i in range(max(clients, benign_clients))]
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix="rag-bench-serve-", suffix=".log")[1])
    with log.open("w") as sink:
        server = subprocess.Popen([sys.executable, "-c", "from rag.cli import main; main()", "serve", "--port",
                                   str(port), "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=sink, text=True)
    rss = _RssSampler(server.pid)
    try:
        _wait_ready(base, server, log)
        rss.start()
        headers = [{"Authorization": f"Bearer {key}"} for key in keys]
        probe = _load(base, headers, list(BENIGN), 1)  # one at a time, before any load: where each goes
        served = [q for q in BENIGN if probe["routes_by_question"].get(q) == ["server"]]
        mixed = _load(base, headers, [SENSITIVE[i // 2 % 4] if i % 2 == 0 else BENIGN[i // 2 % 4]
                                      for i in range(clients * per_client)], clients)
        benign = [served[i % len(served)] for i in range(benign_clients * per_client)] if served else []
        api = {**_load(base, headers, benign, benign_clients), "questions": benign} if benign else None
    finally:
        rss.stop()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return {"benign_alone": probe["routes_by_question"], "mixed": mixed, "server_path": api,
            "server_peak_rss_mib": rss.peak_mib, "server_log": str(log)}


def _server_root(url: str) -> str:
    """``http://host:port/v1`` -> ``http://host:port`` (the proxy forwards paths as they come)."""
    root = url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def _proxy_counts(proxy: RecordingProxy) -> dict:
    """Chat requests the proxy forwarded to vLLM, and those that carried a sensitive question."""
    chats = [r.body for r in proxy.requests if r.path.rstrip("/").endswith("/chat/completions")]
    sensitive = [body for body in chats if any(json.dumps(q)[1:-1] in body for q in SENSITIVE)]
    return {"chat_requests": len(chats), "sensitive_requests": len(sensitive)}


def _rag(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", "from rag.cli import main; main()", *args], env=env,
                          capture_output=True, text=True)
    if done.returncode not in (0, 1):
        common.fail(f"`rag {' '.join(args)}` failed: {done.stderr.strip()[-500:]}", 1)
    return done.stdout


def _wait_ready(base: str, server: subprocess.Popen, log: Path, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            common.fail(f"`rag serve` exited: {log.read_text()[-800:]}", 1)
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    common.fail(f"`rag serve` not ready after {timeout_s:.0f}s", 1)


def _load(base: str, headers: list[dict], questions: list[str], concurrency: int) -> dict:
    """Send `questions` with `concurrency` clients, question i with the i-th user's key (round robin);
    latency per route, statuses, tokens, wall time."""

    def one(item: tuple[str, dict]) -> dict:
        question, user = item
        try:
            with httpx.Client(timeout=600) as client:
                response = client.post(f"{base}/v1/query", json={"question": question}, headers=user)
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            row = {"question": question, "status": response.status_code, "route": body.get("route") or "refused",
                   "tokens": int((body.get("usage") or {}).get("completion_tokens", 0)),
                   "code": (body.get("error") or {}).get("code") if isinstance(body.get("error"), dict) else None,
                   "retry_after": response.headers.get("retry-after"),
                   "reason": _why(body) if body.get("route") != "server" else None}
        except httpx.HTTPError as exc:
            row = {"question": question, "status": f"transport:{type(exc).__name__}", "route": "error", "tokens": 0}
        return row

    return _summary(*_concurrently(one, [(q, headers[i % len(headers)]) for i, q in enumerate(questions)], concurrency))


def _why(body: dict) -> str | None:
    """The policy's reasons that say why a request was not sent to the server (the detection and level
    reasons, not the token counts)."""
    reasons = [r for r in body.get("reasons") or [] if "tokens" not in r]
    return "; ".join(reasons[-2:]) or None


def _direct(settings: Any, env: dict, questions: list[str], concurrency: int) -> dict:
    """The same prompts as the assistant sends, straight to vLLM at the same concurrency."""
    from rag.assistant import STOP, build_messages
    from rag.config import Settings
    from rag.runtime import Runtime

    runtime = Runtime(Settings(home=Path(env["RAG_HOME"]), vllm_url=settings.vllm_url))
    prompts = {q: build_messages(q, [], runtime.retriever.search(q, groups=("all", "engineering"),
                                                                 k=runtime.settings.top_k,
                                                                 mode=runtime.settings.search_mode))
               for q in set(questions)}
    def one(question: str) -> dict:
        payload = {"model": settings.vllm_model, "messages": prompts[question], "stop": list(STOP),
                   "max_tokens": settings.max_new_tokens, "temperature": settings.temperature}
        try:
            with httpx.Client(timeout=600) as client:
                response = client.post(f"{settings.vllm_url.rstrip('/')}/chat/completions", json=payload)
            tokens = int(response.json().get("usage", {}).get("completion_tokens", 0)) if response.is_success else 0
            row = {"status": response.status_code, "route": "direct", "tokens": tokens}
        except httpx.HTTPError as exc:
            row = {"status": f"transport:{type(exc).__name__}", "route": "error", "tokens": 0}
        return row

    return _summary(*_concurrently(one, questions, concurrency))


def _concurrently(call: Any, questions: list[Any], concurrency: int) -> tuple[list[dict], float]:
    """Rows of `call(question)` from `concurrency` threads, each with its "seconds"; and the wall time."""

    def timed(question: Any) -> dict:
        started = time.perf_counter()
        row = call(question)
        row["seconds"] = time.perf_counter() - started
        return row

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(timed, questions))
    return results, time.perf_counter() - started


def _summary(results: list[dict], wall: float) -> dict:
    by_route: dict[str, list[float]] = {}
    statuses: dict[str, int] = {}
    codes: dict[str, int] = {}
    for row in results:
        by_route.setdefault(str(row["route"]), []).append(row["seconds"])
        statuses[str(row["status"])] = statuses.get(str(row["status"]), 0) + 1
        if row.get("code"):
            codes[row["code"]] = codes.get(row["code"], 0) + 1
    tokens = sum(r["tokens"] for r in results)
    routes: dict[str, set[str]] = {}
    for row in results:
        if "question" in row:
            routes.setdefault(row["question"], set()).add(str(row["route"]))
    no_retry_after = sum(1 for r in results if r["status"] == 503 and not r.get("retry_after"))
    reasons: dict[str, int] = {}
    for row in results:
        if row.get("reason"):
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
    return {"requests": len(results), "wall_s": round(wall, 2), "requests_per_s": round(len(results) / wall, 3),
            "completion_tokens": tokens, "completion_tokens_per_s": round(tokens / wall, 2),
            "statuses": statuses, "error_codes": codes, "503_without_retry_after": no_retry_after,
            "routes_by_question": {q: sorted(r) for q, r in routes.items()},
            "routes": {route: len(values) for route, values in sorted(by_route.items())},
            "not_server_reasons": reasons,
            "latency_s": {route: _pcts(values) for route, values in sorted(by_route.items())}}


def _pcts(values: list[float]) -> dict:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 3)

    return {"n": len(ordered), "p50": round(statistics.median(ordered), 3), "p95": at(0.95), "p99": at(0.99)}


class _RssSampler:
    """Peak resident memory of a process (sampled every 0.5 s from /proc)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._sample_once()
        self._stop.set()

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self._sample_once()

    def _sample_once(self) -> None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):  # the kernel's own peak RSS of the process
                    self.peak_mib = max(self.peak_mib, round(int(line.split()[1]) / 1024, 1))
        except OSError:
            pass


def _start_vllm(settings: Any) -> Any:
    from rag.cli.vllm_cmds import server_from_settings

    from routing.errors import BackendUnavailable

    server = server_from_settings(settings)
    try:
        server.start(wait=True, timeout_s=settings.vllm_start_timeout_s)
    except BackendUnavailable as exc:
        server.stop()
        common.fail(f"vLLM did not start: {str(exc).splitlines()[-1]}", 1)
    return server


def _vllm_ready(url: str) -> bool:
    try:
        return httpx.get(f"{url.rstrip('/')}/models", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _text(report: dict) -> str:
    lines = [f"mixed load: {report['clients']} clients x {report['requests_per_client']} requests "
             f"(half sensitive), local queue depth {report['local_queue']['depth']}, "
             f"wait {report['local_queue']['wait_s']}s"]
    lines += _run_lines(report["mixed"])
    proxy = report["recording_proxy"]
    lines.append(f"recording proxy in front of vLLM: {proxy['chat_requests']} chat requests forwarded, "
                 f"{proxy['sensitive_requests']} carried a sensitive question")
    sp = report["server_path"]
    if sp is None:
        lines.append("server path: skipped (no vLLM, or no benign question went to the server when asked alone)")
    else:
        lines.append(f"server path, {sp['clients']} concurrent benign clients:")
        lines += ["  through our API: " + line for line in _run_lines(sp["api"])]
        lines += ["  vLLM direct:     " + line for line in _run_lines(sp["direct_vllm"])]
        note = "" if sp["like_for_like"] else (
            f" NOT like-for-like: routes {sp['api']['routes']}, reasons {sp['api']['not_server_reasons']}")
        lines.append(f"ratio API / direct (completion tokens/s): {sp['ratio_api_to_direct']} (target >= 0.9){note}")
    lines.append(f"rag serve peak RSS {report['server_peak_rss_mib']} MiB; its log: {report['server_log']}")
    return "\n".join(lines)


def _run_lines(run: dict) -> list[str]:
    lines = [f"{run['requests']} requests in {run['wall_s']}s = {run['requests_per_s']} req/s, "
             f"{run['completion_tokens_per_s']} completion tokens/s; statuses {run['statuses']}"
             + (f"; error codes {run['error_codes']}" if run["error_codes"] else "")]
    for route, p in run["latency_s"].items():
        lines.append(f"    {route:<8} n={p['n']:<3} p50 {p['p50']:.2f}s  p95 {p['p95']:.2f}s  p99 {p['p99']:.2f}s")
    return lines


def register(group: click.Group) -> None:
    """Add `bench serve` to the bench group."""
    group.add_command(bench_serve_cmd)
