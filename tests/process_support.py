"""A server in a subprocess for end-to-end tests: a free port, start, wait until it answers, stop."""
from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(command: Sequence[str], ready_url: str, log: Path, *, timeout_s: float,
            env: Mapping[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Run `command` (output to `log`) until GET `ready_url` answers 200; fail the test with the log's
    tail if it exits or does not answer within `timeout_s`. Stopped (terminate, then kill) on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(list(command), env=dict(env) if env is not None else None, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{command[0]} exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{ready_url} did not answer within {timeout_s:.0f} s")
            time.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
