"""One mapping from every error (ours, routing's, indexing's, validation) to an HTTP answer."""
from __future__ import annotations

import pytest
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from indexing.errors import FileTooLarge, LoaderError, StoreError, UnsupportedFileType
from rag import errors as E
from routing import errors as R


@pytest.mark.parametrize("exc, status, code, retryable", [
    (E.InvalidRequest("bad", field="top_k"), 422, "invalid_request", False),
    (E.QuestionTooLong("long"), 413, "question_too_long", False),
    (E.UnsupportedMediaType("exe"), 415, "unsupported_file_type", False),
    (E.AuthenticationRequired("who"), 401, "invalid_api_key", False),
    (E.PermissionDenied("no"), 403, "permission_denied", False),
    (E.NotFound("gone"), 404, "not_found", False),
    (R.SensitiveBackendDown("local down", reasons=("query contains PERSON",)), 503, "sensitive_local_down", True),
    (R.RefusedError("both down", reasons=("local and server backends both down: refused",)), 503,
     "service_unavailable", True),
    (R.BackendUnavailable("vllm unreachable", backend="server"), 503, "service_unavailable", True),
    (R.BackendUnavailable("GGUF missing", backend="local", is_retryable=False), 503, "service_unavailable", False),
    (R.DetectionError("presidio timed out"), 503, "service_unavailable", True),
    (R.GenerationError("bad output", backend="local"), 502, "backend_error", False),
    (UnsupportedFileType("x.exe", "unsupported file type '.exe'", "convert it"), 415,
     "unsupported_file_type", False),
    (FileTooLarge("big.pdf", "too big", "split it"), 413, "file_too_large", False),
    (LoaderError("bad.pdf", "corrupt", "not a PDF", "re-export it"), 422, "invalid_request", False),
    (StoreError("database is locked", retryable=True), 503, "service_unavailable", True),
    (StoreError("wrong dimension"), 500, "internal_error", False),
    (HTTPException(404, "Not Found"), 404, "not_found", False),
    (HTTPException(405, "Method Not Allowed"), 405, "method_not_allowed", False),
    (RuntimeError("secret internals /etc/passwd"), 500, "internal_error", False),
])
def test_when_error_mapped_then_status_code_and_retryable(exc, status, code, retryable):
    error = E.to_service_error(exc)
    assert (error.status_code, error.code, error.is_retryable) == (status, code, retryable)


def test_when_sensitive_refused_then_message_says_not_sent_elsewhere_and_keeps_reasons():
    error = E.to_service_error(R.SensitiveBackendDown("x", reasons=("query contains US_SSN (restricted)",)))
    assert "NOT sent" in error.message
    assert error.reasons == ("query contains US_SSN (restricted)",)
    assert error.headers["Retry-After"]
    body = E.error_body(error, "req1")["error"]
    assert body["reasons"] == ["query contains US_SSN (restricted)"] and body["request_id"] == "req1"


def test_when_unexpected_error_then_message_does_not_leak():
    assert "passwd" not in E.to_service_error(RuntimeError("/etc/passwd")).message


def test_when_validation_error_then_422_names_field():
    exc = RequestValidationError([{"loc": ("body", "top_k"), "msg": "Input should be a valid integer", "type": "x"}])
    error = E.to_service_error(exc)
    assert error.status_code == 422 and error.field == "top_k" and "top_k" in error.message


def test_when_401_then_www_authenticate_header():
    assert E.AuthenticationRequired("x").headers == {"WWW-Authenticate": 'Bearer realm="rag"'}


@pytest.mark.parametrize("status, openai_type", [
    (401, "authentication_error"), (403, "permission_error"), (404, "not_found_error"),
    (422, "invalid_request_error"), (500, "server_error"), (503, "service_unavailable_error"),
])
def test_when_body_rendered_then_openai_error_type(status, openai_type):
    assert E.error_type(status) == openai_type
