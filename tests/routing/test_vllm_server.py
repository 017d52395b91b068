"""VllmServer's process bookkeeping without starting vLLM (the real start is in backends/test_vllm_integration.py)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from routing.backends.llama_cpp import file_sha256
from routing.errors import BackendUnavailable
from routing.vllm_server import STAMP_NAME, VllmServer, _group_pids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> VllmServer:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"fake weights")
    return VllmServer(venv=tmp_path / "no-venv", model_dir=tmp_path / "hf", served_name="m", port=free_port(),
                      state_dir=tmp_path / "state", max_model_len=8192, gguf_path=gguf)


def test_when_command_built_then_offline_eager_float32_on_localhost(server):
    cmd = server.command()
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    joined = " ".join(cmd)
    for flag in ("--host 127.0.0.1", f"--port {server.port}", "--max-model-len 8192", "--dtype float32",
                 "--enforce-eager", "--served-model-name m"):
        assert flag in joined


def test_when_env_built_then_offline_and_caches_inside_cache_dir(server):
    env = server._env()
    assert env["HF_HUB_OFFLINE"] == env["TRANSFORMERS_OFFLINE"] == "1"
    assert env["VLLM_NO_USAGE_STATS"] == env["DO_NOT_TRACK"] == "1"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2"
    for key in ("VLLM_CACHE_ROOT", "TORCHINDUCTOR_CACHE_DIR", "TMPDIR"):
        assert Path(env[key]).is_relative_to(server.cache_dir) and Path(env[key]).is_dir()


def test_when_venv_missing_then_start_fails_saying_how_to_install(server):
    with pytest.raises(BackendUnavailable, match="setup_vllm.sh") as info:
        server.start(wait=False)
    assert info.value.is_retryable is False


def test_when_stamp_matches_gguf_then_no_conversion_needed(server):
    server.model_dir.mkdir()
    (server.model_dir / "config.json").write_text("{}")
    (server.model_dir / STAMP_NAME).write_text(json.dumps({"source_sha256": file_sha256(server._gguf_path)}))
    assert server.ensure_model() is False  # no venv needed: nothing to do


def test_when_stamp_is_stale_then_conversion_is_attempted(server):
    server.model_dir.mkdir()
    (server.model_dir / "config.json").write_text("{}")
    (server.model_dir / STAMP_NAME).write_text(json.dumps({"source_sha256": "0" * 64}))
    with pytest.raises(BackendUnavailable, match="vLLM venv not found"):
        server.ensure_model()


def test_when_nothing_runs_then_status_says_so_and_stop_is_a_no_op(server):
    status = server.status()
    assert (status.running, status.healthy, status.pid, status.detail) == (False, False, None, "not running")
    assert server.stop() is False
    assert server.log_tail() == ""


def test_when_pid_file_names_another_program_then_it_is_not_ours(server):
    server.state_dir.mkdir(parents=True)
    server.pid_file.write_text(str(os.getpid()))
    assert server.running_pid() is None
    assert server.stop() is False and not server.pid_file.exists()  # stale pid file removed, nothing killed


def test_when_port_taken_by_another_program_then_start_refuses(server, tmp_path):
    (server.venv / "bin").mkdir(parents=True)
    (server.venv / "bin" / "python").symlink_to(sys.executable)
    server.model_dir.mkdir()
    (server.model_dir / "config.json").write_text("{}")
    (server.model_dir / STAMP_NAME).write_text(json.dumps({"source_sha256": file_sha256(server._gguf_path)}))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", server.port))
        sock.listen()
        with pytest.raises(BackendUnavailable, match=f"port {server.port} is already in use"):
            server.start(wait=False)


def test_when_process_group_stopped_then_children_are_gone_too(server):
    """stop() on a real process group shaped like vLLM's (a leader with a child)."""
    server.state_dir.mkdir(parents=True)
    script = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", script, "vllm.entrypoints.openai.api_server"], start_new_session=True)
    server._process = proc
    server.pid_file.write_text(str(proc.pid))
    deadline = time.monotonic() + 10
    while len(_group_pids(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.running_pid() == proc.pid and server.status().rss_mb > 0
    assert server.stop(grace_s=4) is True
    assert _group_pids(proc.pid) == [] and server.running_pid() is None
