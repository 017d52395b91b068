"""Background document uploads: `POST /v1/documents?background=true` answers 202 with a job id at once;
`GET /v1/documents/jobs/{job_id}` reports the job's status and ingest progress (files, chunks, chunks/s,
ETA) until it is done (with the document) or failed (with the error, in the API's error shape).

One worker thread runs the jobs in order (ingest is CPU-bound: more workers would only share the cores);
the last `MAX_KEPT` jobs are kept in memory (a restart forgets them; the documents themselves are stored).
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

MAX_KEPT = 500


@dataclass
class Job:
    """One background upload: who asked, what, and how far it got."""

    job_id: str
    owner: str
    name: str
    status: str = "queued"  # queued | running | done | failed
    created: float = field(default_factory=time.time)
    progress: dict[str, Any] = field(default_factory=dict)
    document: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "name": self.name, "status": self.status, "created": int(self.created),
                "progress": dict(self.progress), "document": self.document, "error": self.error}


class JobQueue:
    """Runs background uploads one at a time and remembers their outcome."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="upload-job")

    def submit(self, owner: str, name: str, work: Callable[[Job], dict[str, Any]],
               on_error: Callable[[BaseException], dict[str, Any]]) -> Job:
        """Queue `work(job)` (returns the document as a dict); `on_error` turns an exception into an error body."""
        job = Job(uuid.uuid4().hex, owner, name)
        with self._lock:
            self._jobs[job.job_id] = job
            while len(self._jobs) > MAX_KEPT:
                self._jobs.popitem(last=False)
        self._pool.submit(self._run, job, work, on_error)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def _run(job: Job, work: Callable[[Job], dict[str, Any]], on_error: Callable[[BaseException], dict]) -> None:
        job.status = "running"
        try:
            job.document = work(job)
            job.status = "done"
        except BaseException as exc:  # noqa: BLE001 - reported through the status endpoint
            job.error = on_error(exc)
            job.status = "failed"
