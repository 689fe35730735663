"""Embedding a project's items: which are still missing, and their vectors, chunk by chunk.

``embedding_chunks`` reads and computes only; ``embed_project`` (``aldesk embed``) stores each
chunk as it finishes, so an interrupted run resumes where it stopped; the app's background job
sends the chunks to the GUI thread, which stores them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aldesk.core import vectors
from aldesk.core.items import count_items
from aldesk.core.disk import reserve_error
from aldesk.core.kinds import kind_of
from aldesk.core.kinds.base import Source
from aldesk.core.store import Project
from aldesk.ml.encoders.encoder import Encoder

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


@dataclass
class EmbeddedChunk:
    item_ids: np.ndarray
    vectors: np.ndarray
    failures: list[tuple[int, str]]  # (item id, reason)


def item_sources(project: Project, todo: Sequence[tuple[int, Path]], encoder: Encoder) -> tuple[list[int], list[Source]]:
    """The ids of ``todo`` and, for each, how its item is read for ``encoder`` (the project's kind says)."""
    return [i for i, _ in todo], kind_of(project).sources(project, todo, short_side=encoder.load_side)


def missing_items(project: Project, backbone: Encoder) -> list[tuple[int, Path]]:
    """(item id, resolved path) of the items without a vector from ``backbone``, by id."""
    found = vectors.find_set(project, backbone.identity)
    # Sorted id arrays, and paths only of the missing items: every app start runs this.
    return [(i, project.resolve(p)) for i, p in vectors.unembedded(project, found.id if found else None)]


def embedding_chunks(
    encoder: Encoder,
    item_ids: Sequence[int],
    sources: Sequence[Source],
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Iterator[EmbeddedChunk]:
    """The vectors of these items, a chunk at a time (failures named per item); ``sources``
    from the project's kind (``ItemKind.sources``), read on the project's thread."""
    ids = np.asarray(item_ids, dtype=np.int64)
    for chunk in encoder.chunks(sources, batch_size=batch_size, progress=progress, cancel=cancel):
        yield EmbeddedChunk(ids[chunk.positions], chunk.vectors, [(int(ids[pos]), reason) for pos, reason in chunk.failures])


@dataclass
class EmbedReport:
    backbone: str
    embedded: int = 0
    already: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    cancelled: bool = False


def embed_project(
    project: Project,
    backbone: Encoder,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    batch_size: int | None = None,
) -> EmbedReport:
    """Embed every item not yet embedded with this backbone; each chunk is committed as it
    finishes, so an interrupted run resumes where it stopped."""
    eset = vectors.get_or_create_set(project, backbone.spec.name, backbone.identity, backbone.spec.dim)
    todo = missing_items(project, backbone)
    total = count_items(project)
    report = EmbedReport(backbone=backbone.spec.name, already=total - len(todo))
    path_of = dict(todo)
    ids, sources = item_sources(project, todo, backbone)
    for chunk in embedding_chunks(backbone, ids, sources, batch_size=batch_size, progress=progress, cancel=cancel):
        if len(chunk.item_ids):
            # Embeddings can be computed again, labels cannot: never fill the disk's last 64 MB.
            tight = reserve_error(
                project.path,
                incoming=chunk.vectors.nbytes,
                outcome=(
                    f"embedding stopped to keep room for labels ({report.embedded} items embedded now and "
                    "every earlier chunk are kept; run the same command again after freeing space)"
                ),
            )
            if tight is not None:
                raise tight
            vectors.add_chunk(project, eset.id, chunk.item_ids, chunk.vectors)
            report.embedded += len(chunk.item_ids)
        report.failed.extend((str(path_of[item]), reason) for item, reason in chunk.failures)
    report.cancelled = bool(cancel and cancel())
    return report
