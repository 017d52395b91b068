"""Property test of the HTTP layer against its own OpenAPI schema (schemathesis): no input yields a 5xx.

Runs the real app (real users, audit, index store and ingestor) with the fake assistant, so it is fast;
test_api_e2e.py repeats a smaller run with the real assistant. Positive (schema-valid) and negative
(schema-violating) inputs are both generated; each operation gets a bounded number of examples.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rag_api_helpers import Service, build_runtime, start_service
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

MAX_EXAMPLES = 20


def run_schema_property_test(service: Service, max_examples: int = MAX_EXAMPLES) -> list[str]:
    """Drive every operation of the app's OpenAPI schema with generated cases; return the operations run."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", service.client.app)
    ran = []
    for result in schema.get_all_operations():
        operation = result.ok()
        user = "admin" if operation.path.startswith("/v1/documents") else "emp_a"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=max_examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case):
                case.call_and_validate(headers=service.auth(user), checks=[not_a_server_error])

            try:
                check()
            except Unsatisfiable:  # nothing in this operation can be made invalid (e.g. GET /healthz)
                assert mode is GenerationMode.NEGATIVE, operation.path
        ran.append(f"{operation.method.upper()} {operation.path}")
    return ran


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    svc = start_service(build_runtime(tmp_path_factory.mktemp("schema"), max_question_chars=500))
    yield svc
    svc.client.__exit__(None, None, None)


def test_when_any_schema_input_then_no_server_error(service):
    ran = run_schema_property_test(service)
    assert {"POST /v1/query", "POST /v1/chat/completions", "POST /v1/documents", "DELETE /v1/documents/{doc_id}",
            "GET /readyz", "GET /v1/models"} <= set(ran)
    metrics = service.client.get("/metrics").text
    for endpoint in ("/v1/query", "/v1/chat/completions", "/v1/documents"):
        line = next(x for x in metrics.splitlines() if x.startswith(f'rag_http_request_seconds_count{{endpoint="{endpoint}"}}'))
        assert float(line.split()[-1]) >= 10, line  # the cases really reached the app
    assert 'status="5' not in metrics
