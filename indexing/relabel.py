"""Bring stale chunk labels up to date: after the detector or its configuration changed.

Each chunk stores the stamp (detector version + config) its label was made with. `relabel_stale`
re-labels the chunks whose stamp differs from the current one, a batch per transaction, so it can be
interrupted at any point and resumed: the next run picks up the chunks still stale.
"""
from __future__ import annotations

from collections.abc import Callable

from indexing.ingest import Labeler
from indexing.store import IndexStore
from indexing.types import ChunkLabel, Classification


def relabel_stale(store: IndexStore, labeler: Labeler, label_stamp: str, batch_size: int = 64,
                  progress: Callable[[int, int], None] | None = None, limit: int | None = None) -> int:
    """Re-label every chunk whose label stamp is not `label_stamp`; returns how many were updated.

    Args:
        store: the index.
        labeler: passages ("title: text") -> labels, as at ingest.
        label_stamp: the current detector stamp.
        batch_size: chunks labelled and committed together.
        progress: called with (done, still stale) after each batch.
        limit: stop after about this many chunks (None: all).
    """
    done = 0
    while limit is None or done < limit:
        batch = store.stale_passages(label_stamp, batch_size)
        if not batch:
            break
        labels = labeler([text for _, text in batch])
        done += store.relabel({rowid: _as_chunk_label(label) for (rowid, _), label in zip(batch, labels, strict=True)},
                              label_stamp)
        if progress is not None:
            progress(done, store.stale_label_count(label_stamp))
    return done


def _as_chunk_label(label: "ChunkLabel | Classification") -> ChunkLabel:
    return label if isinstance(label, ChunkLabel) else ChunkLabel(Classification(label))


__all__ = ["relabel_stale"]
