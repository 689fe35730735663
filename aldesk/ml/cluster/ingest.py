"""Ingesting shard files into the project: checked item by item, one transaction per shard.

Only items still in the project, with the same stored path as when the shard was written, and
not yet embedded with that backbone are added; ``vectors.add_chunk`` stores each shard's rows
in one transaction, so an interrupted ingest keeps every shard it finished.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aldesk.core import vectors
from aldesk.core.items import paths_of
from aldesk.core.store import Project
from aldesk.ml.cluster.shards import Shard, ShardError, list_shards, read_shard


class DoneItems:
    """Which item ids already have a vector in one embedding set: a flag per id (10 MB for ten
    million ids), not a Python set of ints (hundreds of MB)."""

    def __init__(self, ids: np.ndarray) -> None:
        self._flags = np.zeros(int(ids.max()) + 1 if len(ids) else 0, dtype=bool)
        self._flags[ids] = True

    def __len__(self) -> int:
        return int(self._flags.sum())

    def contains(self, ids: np.ndarray) -> np.ndarray:
        inside = ids < len(self._flags)
        out = np.zeros(len(ids), dtype=bool)
        out[inside] = self._flags[ids[inside]]
        return out

    def add(self, ids: np.ndarray) -> None:
        if len(ids) and int(ids.max()) >= len(self._flags):
            grown = np.zeros(int(ids.max()) + 1, dtype=bool)
            grown[: len(self._flags)] = self._flags
            self._flags = grown
        self._flags[ids] = True

    @classmethod
    def of_set(cls, project: Project, set_id: int) -> "DoneItems":
        return cls(vectors.embedded_ids(project, set_id))


@dataclass
class IngestResult:
    added: int = 0  # vectors stored
    already: int = 0  # items of the shard that had a vector already
    gone: int = 0  # items deleted from the project since the shard was written
    failures: list[tuple[str, str]] = field(default_factory=list)  # (absolute path, reason)


def stored_paths(project: Project, ids: np.ndarray) -> dict[int, str]:
    """Stored path of each of ``ids`` still in the project: one range query when the ids are
    dense (a first run), else lookups in groups (a resumed run's shards span gaps)."""
    return paths_of(project, [int(i) for i in ids])


def ingest_shard(project: Project, shard: Shard, set_id: int, done: DoneItems) -> IngestResult:
    """Store the shard's new vectors; ShardError if it was written for other pictures."""
    current = stored_paths(project, shard.ids)
    present = np.zeros(len(shard.ids), dtype=bool)
    for k, (item, path) in enumerate(zip(shard.ids.tolist(), shard.paths)):
        now = current.get(item)
        if now is None:
            continue
        if now != path:
            raise ShardError(
                shard.path,
                f"does not belong to {project.path}: item {item} is {path!r} in the shard but {now!r} "
                "in the project (a shard of another project, or the images were relocated or "
                "re-imported since). Move it away and embed again.",
            )
        present[k] = True
    already = present & done.contains(shard.ids)
    new = present & ~already & shard.embedded
    result = IngestResult(already=int(already.sum()), gone=int((~present).sum()))
    if new.any():
        rows = np.cumsum(shard.embedded) - 1  # row in shard.vectors of each embedded item
        vecs = shard.vectors[rows[new]]
        vectors.add_chunk(project, set_id, shard.ids[new], vecs)
        done.add(shard.ids[new])
        result.added = int(new.sum())
    for item, path, reason in shard.failures():
        if item in current:
            result.failures.append((str(project.resolve(path)), reason))
    return result


@dataclass
class FolderReport:
    shards: int = 0  # shard files ingested
    added: int = 0
    already: int = 0
    gone: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    bad: list[ShardError] = field(default_factory=list)  # files refused, with the reason
    sets: dict[str, int] = field(default_factory=dict)  # identity -> embedding set id

    def include(self, result: IngestResult) -> None:
        self.shards += 1
        self.added += result.added
        self.already += result.already
        self.gone += result.gone
        self.failures.extend(result.failures)


def ingest_folder(
    project: Project, folder: Path, *, identity: str | None = None, after_each: Callable[[Path, bool], None] | None = None
) -> FolderReport:
    """Ingest every shard file under ``folder``. With ``identity``, only shards of that backbone
    identity are accepted (others are bad); without, each shard goes to the set of its own
    identity, created if new. ``after_each(path, ok)`` runs after each file (to remove or set
    aside files); a bad file never stops the others."""
    report = FolderReport()
    done_by_set: dict[int, DoneItems] = {}
    for path in list_shards(folder):
        try:
            shard = read_shard(path)
            if identity is not None and shard.identity != identity:
                raise ShardError(path, f"was computed with backbone {shard.identity}, not {identity}.")
            eset = vectors.get_or_create_set(project, str(shard.meta["backbone"]), shard.identity, shard.dim)
            if eset.dim != shard.dim:
                raise ShardError(path, f"holds {shard.dim}-d vectors but {eset.identity} stores {eset.dim}-d ones.")
            if eset.id not in done_by_set:
                done_by_set[eset.id] = DoneItems.of_set(project, eset.id)
            report.include(ingest_shard(project, shard, eset.id, done_by_set[eset.id]))
            report.sets[eset.identity] = eset.id
        except ShardError as exc:
            report.bad.append(exc)
            if after_each:
                after_each(path, False)
            continue
        if after_each:
            after_each(path, True)
    return report
