"""Document management: upload, list, show, delete. Knowledge managers and admins only.

A knowledge manager sees documents sharing one of their groups (others answer 404) but replaces or
deletes only those whose groups are ALL among their own (others they can see answer 403), and may
share an upload only with their own groups. Admins see and manage all.

An upload's source is ``uploads/<reader groups joined by +>/<file name>``: the reader groups are the
upload's collection, so the document id (sha256 of the source) is unique per file name and collection.
A same-name upload by a manager of other groups lands in another collection: a new document, and
nothing about the other one is revealed. Re-uploading into the same collection replaces the document,
which the uploader may always manage (its groups are the upload's, all among the uploader's own).
"""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from indexing.loaders import SUPPORTED_EXTENSIONS
from indexing.types import Classification, DocumentRecord
from rag.api.deps import DocumentManagerDep, RequestIdDep, StateDep
from rag.api.recording import Recorder
from rag.api.schemas import ERROR_RESPONSES, DocumentDeleted, DocumentList, DocumentOut
from rag.errors import (Conflict, InvalidRequest, NotFound, PayloadTooLarge, PermissionDenied, UnsupportedMediaType,
                        to_service_error)
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


@router.post("", status_code=201, response_model=DocumentOut, summary="Upload a document (added or replaced)")
def upload_document(
    state: StateDep, principal: DocumentManagerDep, request_id: RequestIdDep,
    file: Annotated[UploadFile, File(description=f"One of: {', '.join(SUPPORTED_EXTENSIONS)}")],
    groups: Annotated[str | None, Form(description="Comma-separated reader groups; default: yours.")] = None,
    classification: Annotated[str | None, Form(description="public, internal, confidential or restricted")] = None,
) -> DocumentOut:
    name = _safe_name(file.filename)
    with Recorder(state, request_id=request_id, principal=principal, endpoint=router.prefix, action="upload",
                  target=name) as recorder:
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
        result = state.runtime.ingestor.ingest_bytes(source, data, list(readers), level)
        if result.error is not None:
            raise to_service_error(result.error)
        if result.action == "refused" or not result.doc_id:
            raise InvalidRequest(f"the file was refused: {result.reason or 'it could not be read'}", field="file")
        recorder.fields["target"] = result.doc_id
        record = state.runtime.store.get_document(result.doc_id)
    return DocumentOut.of(record, action=result.action)


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

