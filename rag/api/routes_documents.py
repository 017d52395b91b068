"""Document management: upload, list, show, delete. Knowledge managers and admins only.

A knowledge manager sees documents sharing one of their groups (others answer 404) but replaces or
deletes only those whose groups are ALL among their own (others they can see answer 403), and may
share an upload only with their own groups. Admins see and manage all.

An upload's source is ``uploads/<reader groups joined by +>/<file name>``: the reader groups are the
upload's collection, so the document id (sha256 of the source) is unique per file name and collection.
A same-name upload by a manager of other groups lands in another collection: a new document, and
nothing about the other one is revealed. Re-uploading into the same collection replaces the document,
which the uploader may always manage (its groups are the upload's, all among the uploader's own).

A large upload can run in the background (`?background=true`): the same checks run first (a conflict or a
bad request still answers at once), then 202 with a job id, and `GET /v1/documents/jobs/{job_id}` gives its
status and progress (see `rag.api.jobs`). Jobs are visible to the user who submitted them (and admins).
"""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse

from indexing.loaders import SUPPORTED_EXTENSIONS
from indexing.types import Classification, DocumentRecord
from rag.api.deps import DocumentManagerDep, RequestIdDep, StateDep
from rag.api.recording import Recorder
from rag.api.schemas import ERROR_RESPONSES, DocumentDeleted, DocumentList, DocumentOut
from rag.errors import (Conflict, InvalidRequest, NotFound, PayloadTooLarge, PermissionDenied, UnsupportedMediaType,
                        error_body, to_service_error)
from rag.types import Principal
from rag.users import parse_groups

router = APIRouter(prefix="/v1/documents", tags=["documents"], responses=ERROR_RESPONSES)


def visible(record: DocumentRecord, principal: Principal) -> bool:
    """Whether `principal` may see `record`: admins all, others when one group is shared."""
    return principal.role == "admin" or bool(set(record.groups) & set(principal.groups))


def manageable(record: DocumentRecord, principal: Principal) -> bool:
    """Whether `principal` may replace or delete `record`: admins all, managers when all its groups are theirs."""
    return principal.role == "admin" or set(record.groups) <= set(principal.groups)


def upload_source(name: str, readers: tuple[str, ...]) -> str:
    """The source (and so the id) of an upload: its collection (the reader groups) and file name."""
    return f"uploads/{'+'.join(sorted(readers))}/{name}"


def _visible_or_404(state: StateDep, doc_id: str, principal: Principal) -> DocumentRecord:
    record = state.runtime.store.get_document(doc_id)
    if record is None or record.doc_id != doc_id or not visible(record, principal):
        raise NotFound(f"no document {doc_id!r} among the documents you may manage")
    return record


def _manageable_or_403(state: StateDep, doc_id: str, principal: Principal) -> DocumentRecord:
    record = _visible_or_404(state, doc_id, principal)
    if not manageable(record, principal):
        outside = ", ".join(sorted(set(record.groups) - set(principal.groups)))
        raise PermissionDenied(f"document {doc_id!r} is also shared with groups you do not manage ({outside}); "
                               "ask a manager of all its groups or an administrator")
    return record


@router.post("", status_code=201, response_model=DocumentOut, summary="Upload a document (added or replaced)",
             responses={202: {"description": "With background=true: the job id; poll /v1/documents/jobs/{job_id}."}})
def upload_document(
    state: StateDep, principal: DocumentManagerDep, request_id: RequestIdDep,
    file: Annotated[UploadFile, File(description=f"One of: {', '.join(SUPPORTED_EXTENSIONS)}")],
    groups: Annotated[str | None, Form(description="Comma-separated reader groups; default: yours.")] = None,
    classification: Annotated[str | None, Form(description="public, internal, confidential or restricted")] = None,
    background: Annotated[bool, Query(description="Ingest in the background: 202 with a job id at once.")] = False,
) -> DocumentOut | JSONResponse:
    name = _safe_name(file.filename)
    recorder = Recorder(state, request_id=request_id, principal=principal, endpoint=router.prefix, action="upload",
                        target=name)
    with recorder:
        readers = _reader_groups(groups, principal, state.settings.default_groups)
        level = _classification(classification or state.settings.default_classification)
        data = file.file.read(state.settings.max_file_bytes + 1)
        if len(data) > state.settings.max_file_bytes:
            raise PayloadTooLarge(f"the file is over the {state.settings.max_file_bytes:,}-byte limit; split it",
                                  field="file")
        source = upload_source(name, readers)
        existing = state.runtime.store.get_document(source)
        if existing is not None and (existing.source != source or not manageable(existing, principal)):
            raise Conflict("this file name is taken in this collection; rename your file", field="file")
        if background:
            recorder.defer()
            job = state.jobs.submit(principal.name, name, lambda job: _ingest_job(state, recorder, job, source, data,
                                                                                 readers, level), _job_error)
            return JSONResponse({"job_id": job.job_id, "status": job.status,
                                 "status_url": f"{router.prefix}/jobs/{job.job_id}"}, status_code=202)
        document = _ingest(state, source, data, readers, level)
        recorder.fields["target"] = document.doc_id
    return document


@router.get("/jobs/{job_id}", summary="Status and progress of a background upload")
def upload_job(job_id: str, state: StateDep, principal: DocumentManagerDep) -> JSONResponse:
    job = state.jobs.get(job_id)
    if job is None or (job.owner != principal.name and principal.role != "admin"):
        raise NotFound(f"no upload job {job_id!r} of yours (jobs are kept in memory until the server restarts)")
    return JSONResponse(job.to_dict())


def _ingest(state: StateDep, source: str, data: bytes, readers: tuple[str, ...], level: Classification,
            progress=None) -> DocumentOut:  # noqa: ANN001 - indexing.ingest.Progress
    result = state.runtime.ingestor.ingest_bytes(source, data, list(readers), level, progress=progress)
    if result.error is not None:
        raise to_service_error(result.error)
    if result.action == "refused" or not result.doc_id:
        raise InvalidRequest(f"the file was refused: {result.reason or 'it could not be read'}", field="file")
    return DocumentOut.of(state.runtime.store.get_document(result.doc_id), action=result.action)


def _ingest_job(state: StateDep, recorder: Recorder, job, source: str, data: bytes,  # noqa: ANN001 - rag.api.jobs.Job
                readers: tuple[str, ...], level: Classification) -> dict:
    try:
        document = _ingest(state, source, data, readers, level, lambda event: job.progress.update(event.to_dict()))
    except Exception as exc:
        recorder.finish(error=to_service_error(exc))
        raise
    recorder.finish(status=201, target=document.doc_id)
    return document.model_dump(mode="json")


def _job_error(exc: BaseException) -> dict:
    error = to_service_error(exc)
    return {"status": error.status_code, **error_body(error)}


@router.get("", response_model=DocumentList, summary="Documents you may manage")
def list_documents(state: StateDep, principal: DocumentManagerDep) -> DocumentList:
    records = [r for r in state.runtime.store.list_documents() if visible(r, principal)]
    return DocumentList(documents=[DocumentOut.of(r) for r in records])


@router.get("/{doc_id}", response_model=DocumentOut, summary="One document's record")
def get_document(doc_id: str, state: StateDep, principal: DocumentManagerDep) -> DocumentOut:
    return DocumentOut.of(_visible_or_404(state, doc_id, principal))


@router.delete("/{doc_id}", response_model=DocumentDeleted, summary="Delete a document everywhere")
def delete_document(doc_id: str, state: StateDep, principal: DocumentManagerDep,
                    request_id: RequestIdDep) -> DocumentDeleted:
    with Recorder(state, request_id=request_id, principal=principal, endpoint=router.prefix + "/{doc_id}",
                  action="delete", target=doc_id):
        record = _manageable_or_403(state, doc_id, principal)
        if not state.runtime.ingestor.delete(record.doc_id):
            raise NotFound(f"document {doc_id!r} was already deleted")
    return DocumentDeleted(doc_id=record.doc_id)


def _safe_name(filename: str | None) -> str:
    name = PurePosixPath((filename or "").replace("\\", "/")).name.strip()
    if not name or name.startswith("."):
        raise InvalidRequest("the upload needs a file name with an extension, e.g. policy.md", field="file")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise UnsupportedMediaType(f"unsupported file type {suffix or '(no extension)'!r}; "
                                   f"use one of: {', '.join(SUPPORTED_EXTENSIONS)}", field="file")
    return name


def _reader_groups(groups: str | None, principal: Principal, default: list[str]) -> tuple[str, ...]:
    if not groups or not groups.strip():
        return tuple(default) if principal.role == "admin" else principal.groups
    readers = parse_groups(groups)
    outside = sorted(set(readers) - set(principal.groups))
    if principal.role != "admin" and outside:
        raise PermissionDenied(f"you may share documents only with your own groups; not with: {', '.join(outside)}")
    return readers


def _classification(value: str) -> Classification:
    try:
        return Classification.parse(value)
    except ValueError as exc:
        raise InvalidRequest(str(exc), field="classification") from None

