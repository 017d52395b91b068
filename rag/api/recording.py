"""Audit and metrics for one request: every query and document change leaves one audit record.

Use `Recorder` as a context manager around the work; it records success or the mapped error on exit.
A streaming answer calls `defer()` inside the block and `finish(...)` when the stream ends.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from rag.api.state import ServiceState
from rag.auditing import record_answer, record_refusal
from rag.errors import ServiceError, to_service_error
from rag.types import Answer, Principal

logger = logging.getLogger(__name__)

ABORTED_STATUS = 499  # client closed the connection before the stream ended (nginx's convention)


class Recorder:
    """Writes the audit record (and answer metrics) of one request, exactly once.

    Args:
        state: the service state (audit log, metrics, registry).
        request_id: the request's id.
        principal: the authenticated caller.
        endpoint: the route template, e.g. ``/v1/query``.
        action: ``query``, ``chat``, ``upload`` or ``delete``.
        query: the question, stored redacted (raw only if configured).
        target: the document id of a document change.
    """

    def __init__(self, state: ServiceState, *, request_id: str, principal: Principal, endpoint: str, action: str,
                 query: str | None = None, target: str | None = None) -> None:
        self.state = state
        self.fields: dict[str, Any] = {"request_id": request_id, "user": principal.name, "endpoint": endpoint,
                                       "action": action, "query": query, "target": target}
        self.answer: Answer | None = None
        self._deferred = False
        self._done = False
        self._lock = threading.Lock()

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None:
            self.finish(error=to_service_error(exc))
        elif not self._deferred:
            self.finish()
        return False  # errors propagate to the app's handlers

    def defer(self) -> None:
        """Leave the record to a later `finish` (a streaming answer records when its stream ends)."""
        self._deferred = True

    @property
    def done(self) -> bool:
        return self._done

    def finish(self, *, error: ServiceError | None = None, status: int | None = None,
               target: str | None = None) -> None:
        """Append the audit record and update the metrics (only the first call has any effect)."""
        with self._lock:
            if self._done:
                return
            self._done = True
        answer = self.answer
        code = status or (error.status_code if error else 200)
        if target:
            self.fields["target"] = target
        fields = dict(self.fields)
        if answer is not None:
            for name in ("chunk_ids", "latencies"):  # the answer's own are recorded
                fields.pop(name, None)
            record_answer(self.state.audit, **fields, answer=answer, status=code, versions=self.state.versions,
                          model=self.state.model_info(answer))
            if error is None and code == 200:
                self.state.metrics.observe_answer(answer.route, answer.reasons, answer.latencies)
        elif error is not None and error.reasons:
            self.state.metrics.observe_decision("refuse", error.reasons)
        if error is not None:
            self.state.metrics.observe_error(error.code, error.status_code)
        if answer is None:
            self._record_plain(fields, code, error)

    def _record_plain(self, fields: dict[str, Any], code: int, error: ServiceError | None) -> None:
        """No answer: a refusal, a bad request, a search or a document change."""
        if error is not None:
            record_refusal(self.state.audit, request_id=fields["request_id"], user=fields["user"],
                           endpoint=fields["endpoint"], action=fields["action"], status=code, query=fields["query"],
                           reasons=error.reasons, versions=self.state.versions, target=fields["target"])
        else:
            self.state.audit.append(**fields, status=code)
