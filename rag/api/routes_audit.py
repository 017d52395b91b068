"""`GET /v1/audit/report`: the audit report of a period (`rag.audit_report`), for administrators only."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from rag.api.deps import AdminDep, StateDep
from rag.api.schemas import ERROR_RESPONSES
from rag.audit_report import build_report
from rag.errors import InvalidRequest

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)


@router.get("/report", summary="Audit report of a period: routes, versions, egress scans, refusals, chain")
def audit_report(state: StateDep, principal: AdminDep,
                 since: Annotated[str | None, Query(description="ISO 8601 start (inclusive)")] = None,
                 until: Annotated[str | None, Query(description="ISO 8601 end (exclusive)")] = None) -> dict[str, Any]:
    del principal  # admins only
    return build_report(state.audit, _iso(since, "since"), _iso(until, "until"))


def _iso(value: str | None, field: str) -> str | None:
    """Normalise a time to the audit log's UTC form (naive: UTC)."""
    if value is None:
        return None
    from rag.users import parse_time

    try:
        datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRequest(f"{field}: use ISO 8601, e.g. 2026-11-01 or 2026-11-01T00:00:00Z", field=field) from None
    return parse_time(value)
