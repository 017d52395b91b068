"""`rag vllm ...` and `rag bench generate` through click's CliRunner, with settings from RAG_* env."""
from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner

from rag.cli import cli


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def env(tmp_path, monkeypatch):
    port = free_port()
    monkeypatch.setenv("RAG_VLLM_PORT", str(port))
    monkeypatch.setenv("RAG_VLLM_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("RAG_VLLM_STATE_DIR", str(tmp_path / "vllm"))
    monkeypatch.setenv("RAG_VLLM_VENV", str(tmp_path / "no-venv"))
    return tmp_path


def test_when_no_server_then_status_json_says_not_running_and_exit_1(env):
    result = CliRunner().invoke(cli, ["vllm", "status", "--json"])
    assert result.exit_code == 1
    status = json.loads(result.output)
    assert (status["running"], status["healthy"], status["detail"]) == (False, False, "not running")


def test_when_nothing_started_then_stop_says_not_running(env):
    result = CliRunner().invoke(cli, ["vllm", "stop"])
    assert result.exit_code == 0 and "not running" in result.output


def test_when_never_started_then_logs_fail_clearly(env):
    result = CliRunner().invoke(cli, ["vllm", "logs"])
    assert result.exit_code == 1 and "never started" in result.output


def test_when_venv_missing_then_start_fails_with_setup_hint(env):
    result = CliRunner().invoke(cli, ["vllm", "start"])
    assert result.exit_code == 1 and "setup_vllm.sh" in result.output


def test_when_server_required_but_absent_then_bench_says_how_to_start_it(env):
    result = CliRunner().invoke(cli, ["bench", "generate", "--only", "server", "--no-start"])
    assert result.exit_code == 1 and "rag vllm start --wait" in result.output


@pytest.mark.slow
def test_when_benchmarking_local_then_ours_and_raw_generate_the_same_tokens(env):
    result = CliRunner().invoke(cli, ["bench", "generate", "--only", "local", "--n", "1", "--json"])
    assert result.exit_code == 0, result.output
    local = json.loads(result.output)["results"]["local"]
    assert local["ours"]["completion_tokens"] == local["raw"]["completion_tokens"] > 0
    assert local["ours"]["requests"] == local["raw"]["requests"] == 4
    assert 0.5 < local["ratio_ours_to_raw"] < 2.0
