"""Storing one chunk of embeddings from the GUI thread (the embedding and the tuning jobs send them)."""

from __future__ import annotations

import logging

from aldesk.core import vectors
from aldesk.core.disk import reserve_error
from aldesk.core.store import Project
from aldesk.gui.write_guard import WRITE_ERRORS
from aldesk.ml.loop.jobs import EmbedChunk

PAUSED = "{} is paused to keep room for your labels, which still save"  # below disk.LABEL_RESERVE_BYTES
log = logging.getLogger("aldesk.chunks")


def store_chunk(project: Project, chunk: EmbedChunk, *, what: str = "embedding") -> Exception | None:
    """Store ``chunk`` in its encoder's set, one short transaction; the error instead when the
    labels need the room more or the write fails (the chunk is then recomputed later)."""
    tight = reserve_error(project.path, outcome=PAUSED.format(what), incoming=chunk.vectors.nbytes)
    if tight is not None:
        return tight
    try:
        eset = vectors.get_or_create_set(project, chunk.backbone, chunk.identity, chunk.dim)
        if len(chunk.item_ids):
            vectors.add_chunk(project, eset.id, chunk.item_ids, chunk.vectors)
    except WRITE_ERRORS as exc:
        return exc
    for item_id, reason in chunk.failures:
        log.warning("item %s not embedded: %s", item_id, reason)
    return None
