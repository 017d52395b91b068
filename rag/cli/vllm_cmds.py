"""`rag vllm start|stop|status|logs`: the local CPU vLLM server that plays the "server" route."""
from __future__ import annotations

import click

from rag.cli import common
from rag.config import Settings
from routing.vllm_server import VllmServer


def server_from_settings(settings: Settings) -> VllmServer:
    """The `VllmServer` described by `settings` (RAG_VLLM_* variables)."""
    return VllmServer(venv=settings.vllm_venv, model_dir=settings.vllm_model_dir, served_name=settings.vllm_model,
                      port=settings.vllm_port, state_dir=settings.vllm_state_dir,
                      max_model_len=settings.vllm_max_model_len, kv_cache_gib=settings.vllm_kv_cache_gib,
                      gguf_path=settings.vllm_source_gguf, gguf_sha256=settings.vllm_source_sha256)


@click.group("vllm")
def vllm_group() -> None:
    """Manage the local vLLM server (development stand-in for a GPU deployment)."""


@vllm_group.command("start")
@click.option("--wait/--no-wait", default=False, help="Block until the API answers (about a minute on CPU).")
def start_cmd(wait: bool) -> None:
    """Convert the model if needed and start the server in the background."""
    settings = common.settings()
    server = server_from_settings(settings)
    already = server.running_pid()
    pid = server.start(wait=wait, timeout_s=settings.vllm_start_timeout_s)  # BackendUnavailable: exit 1
    state = "already running" if already else ("ready" if wait else "starting")
    click.echo(f"vLLM {state}: pid {pid}, {server.url} (model {server.served_name}); log {server.log_file}")


@vllm_group.command("stop")
@click.option("--grace", default=20.0, show_default=True, help="Seconds between SIGTERM and SIGKILL.")
def stop_cmd(grace: float) -> None:
    """Stop the server started by `rag vllm start` (its whole process group)."""
    server = server_from_settings(common.settings())
    click.echo("vLLM stopped" if server.stop(grace_s=grace) else "vLLM was not running")


@vllm_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_cmd(as_json: bool) -> None:
    """Show whether the server runs and answers; exit code 0 only when it is healthy."""
    status = server_from_settings(common.settings()).status()
    text = (f"{status.detail}: pid {status.pid or '-'}, {status.url}, model {status.model}, "
            f"RSS {status.rss_mb if status.rss_mb is not None else '-'} MB, log {status.log_file}")
    common.emit(status.to_dict(), as_json, text)
    if not status.healthy:
        raise SystemExit(1)


@vllm_group.command("logs")
@click.option("-n", "--lines", default=50, show_default=True, help="How many lines from the end.")
def logs_cmd(lines: int) -> None:
    """Print the end of the server log."""
    server = server_from_settings(common.settings())
    tail = server.log_tail(lines)
    if not tail:
        common.fail(f"no log at {server.log_file}: the server was never started here", 1)
    click.echo(tail)


def register(cli: click.Group) -> None:
    """Add `rag vllm` to the CLI."""
    cli.add_command(vllm_group)
