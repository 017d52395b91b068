"""`rag docs list|show|delete|stats`: the indexed documents.

Exit codes: 0 success, 1 an unknown document; see `rag.cli.common` for the rest.
"""
from __future__ import annotations

import click

from rag.cli import common


@click.group("docs")
def docs_group() -> None:
    """List, show and delete indexed documents."""


@docs_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def docs_list_cmd(as_json: bool) -> None:
    """All documents with their id, version, label, groups and chunk count."""
    records = common.runtime().store.list_documents()
    lines = [f"{r.doc_id}  v{r.version}  {str(r.label):<12} {','.join(r.groups):<24} {r.chunk_count:>4} chunks  "
             f"{r.source}" for r in records]
    lines.append(f"{len(records)} document(s)")
    common.emit([_record_dict(r) for r in records], as_json, "\n".join(lines))


@docs_group.command("show")
@click.argument("doc")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def docs_show_cmd(doc: str, as_json: bool) -> None:
    """One document (by id or source path) and its chunks."""
    store = common.runtime().store
    record = store.get_document(doc)
    if record is None:
        common.fail(f"no document with id or source {doc!r}; see `rag docs list`", 1)
        return
    chunks = store.document_chunks(record.doc_id)
    data = {**_record_dict(record), "chunks": [
        {"chunk_id": c.chunk_id, "position": c.position, "heading": c.heading, "page": c.page,
         "token_count": c.token_count, "text": c.text} for c in chunks]}
    lines = [f"{k}: {v}" for k, v in _record_dict(record).items()]
    lines += [f"  [{c.position}] {c.chunk_id} {c.token_count} tokens"
              + (f" p.{c.page}" if c.page else "") + (f" | {c.heading}" if c.heading else "")
              + f"\n      {common.snippet(c.text, 140)}" for c in chunks]
    common.emit(data, as_json, "\n".join(lines))


@docs_group.command("delete")
@click.argument("doc")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def docs_delete_cmd(doc: str, as_json: bool) -> None:
    """Remove a document (by id or source path) from the index, the vectors and the graph."""
    runtime = common.runtime()
    record = runtime.store.get_document(doc)
    if record is None or not runtime.ingestor.delete(record.doc_id):
        common.fail(f"no document with id or source {doc!r}; see `rag docs list`", 1)
        return
    common.emit({"deleted": record.doc_id, "source": record.source}, as_json,
                f"deleted {record.doc_id} ({record.source})")


@docs_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def docs_stats_cmd(as_json: bool) -> None:
    """Counts of documents, chunks and vectors, labels and groups."""
    stats = common.runtime().store.stats()
    common.emit(stats, as_json, "\n".join(f"{k}: {v}" for k, v in stats.items()))


def _record_dict(record) -> dict:
    return {"doc_id": record.doc_id, "source": record.source, "title": record.title, "format": record.format,
            "version": record.version, "groups": list(record.groups), "declared": str(record.declared),
            "label": str(record.label), "chunk_count": record.chunk_count, "content_hash": record.content_hash,
            "ingested_at": record.ingested_at}


def register(cli: click.Group) -> None:
    """Add the `docs` group to the `rag` group."""
    cli.add_command(docs_group)
