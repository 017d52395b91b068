"""Ingest progress on the command line: a bar on a terminal, JSON lines with `--json`, sparse lines otherwise.

All of it goes to stderr, so stdout keeps only the final report (one JSON document with `--json`).
"""
from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable, TextIO

from indexing.ingest import IngestProgress

QUIET_INTERVAL_S = 10.0


def ingest_progress(as_json: bool, stream: TextIO | None = None) -> Callable[[IngestProgress], None]:
    """A progress callback for `Ingestor.progress` suited to where stderr goes."""
    stream = stream or sys.stderr
    if as_json:
        return lambda event: _json_line(stream, event)
    if _isatty(stream):
        return _Bar(stream)
    return _Sparse(stream)


def _json_line(stream: TextIO, event: IngestProgress) -> None:
    stream.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
    stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _Bar:
    """tqdm bar over bytes (its ETA), with files, chunks and chunks/s; a plain status line without tqdm."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.bar: Any = None

    def __call__(self, event: IngestProgress) -> None:
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover - tqdm comes with sentence-transformers
            self.stream.write("\r" + _status(event))
            if event.files_done >= event.files_total:
                self.stream.write("\n")
            self.stream.flush()
            return
        if self.bar is None:
            self.bar = tqdm(total=event.bytes_total, unit="B", unit_scale=True, file=self.stream, desc="ingest",
                            dynamic_ncols=True)
        self.bar.update(event.bytes_done - self.bar.n)
        self.bar.set_postfix(files=f"{event.files_done}/{event.files_total}", chunks=event.chunks_done,
                             cps=f"{event.chunks_per_s:.1f}", refresh=True)
        if event.files_done >= event.files_total:
            self.bar.close()


class _Sparse:
    """One status line at most every `QUIET_INTERVAL_S` seconds (logs, CI), and a last one at the end."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last = time.monotonic()

    def __call__(self, event: IngestProgress) -> None:
        now = time.monotonic()
        done = event.files_done >= event.files_total
        if now - self.last >= QUIET_INTERVAL_S or (done and event.elapsed_s >= QUIET_INTERVAL_S):
            self.last = now
            self.stream.write(_status(event) + "\n")
            self.stream.flush()


def _status(event: IngestProgress) -> str:
    eta = event.eta_s
    return (f"ingest: {event.files_done}/{event.files_total} files, {event.chunks_done} chunks, "
            f"{event.chunks_per_s:.1f} chunks/s, {event.elapsed_s:.0f}s elapsed"
            + (f", ETA {eta:.0f}s" if eta is not None else ""))
