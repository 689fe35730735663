"""Encoders fine-tuned on the person's labels, kept in the project, and which encoder is in use.

The learning engine tunes; this module keeps the result: the weights (bytes the engine reads
back), in parts of ``PART_BYTES`` written one short transaction each, then the encoder's row
with the digest of the whole, so a reader sees either a complete encoder or none, and a
damaged one is noticed (``TunedWeightsDamaged``) instead of loaded. Which vectors the rounds
read is the ``active`` embedding set: the meta key ``ACTIVE_KEY`` holds its encoder identity
once a tuning began (pinned) or was adopted; without it (images, and texts never tuned) the set
most recently written to, which is how a project switches to another image backbone.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from aldesk.core.errors import AldeskError
from aldesk.core.store import Project
from aldesk.core.vectors import EmbeddingSet, find_set

ACTIVE_KEY = "active_encoder"
TUNED_MARK = "-tuned-"  # in every tuned encoder's identity (ml/encoders/tuning.py tuned_identity)
TRIED_KEY = "tuning_tried_at"  # the labels in the project when the latest tuning started (adopted or not)
PART_BYTES = 4 << 20  # 4 MB: a label's commit waits at most for one part's write


class TunedWeightsDamaged(AldeskError):
    """The stored weights of a tuned encoder are missing parts or fail their digest."""


@dataclass(frozen=True)
class TunedEncoder:
    identity: str
    base: str  # the identity of the encoder it was tuned from
    n_labels: int
    created_at: float


def write_tuned(project: Project, identity: str, base: str, weights: bytes, n_labels: int) -> TunedEncoder:
    """Store a tuned encoder: its parts first (parts left by a write that was cut short are
    replaced, as are the parts of any other write that never got its row), then its row.
    ``project`` may be a second connection (store.second_connection)."""
    for orphan, part in project.conn.execute(
        "SELECT identity, part FROM tuned_weight_parts"
        " WHERE identity = ? OR identity NOT IN (SELECT identity FROM tuned_encoders) ORDER BY identity, part",
        (identity,),
    ).fetchall():
        with project.transaction() as conn:
            conn.execute("DELETE FROM tuned_weight_parts WHERE identity = ? AND part = ?", (orphan, part))
    parts = max(1, -(-len(weights) // PART_BYTES))
    for part in range(parts):
        with project.transaction() as conn:
            conn.execute(
                "INSERT INTO tuned_weight_parts(identity, part, data) VALUES (?, ?, ?)",
                (identity, part, weights[part * PART_BYTES : (part + 1) * PART_BYTES]),
            )
    created = time.time()
    with project.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO tuned_encoders(identity, base, n_labels, parts, sha256, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (identity, base, n_labels, parts, hashlib.sha256(weights).hexdigest(), created),
        )
    return TunedEncoder(identity, base, n_labels, created)


def find_tuned(project: Project, identity: str) -> TunedEncoder | None:
    if not project.has_table("tuned_encoders"):
        return None
    row = project.conn.execute(
        "SELECT identity, base, n_labels, created_at FROM tuned_encoders WHERE identity = ?", (identity,)
    ).fetchone()
    return TunedEncoder(*row) if row else None


def read_weights(project: Project, identity: str) -> bytes:
    """The weights of a stored tuned encoder; TunedWeightsDamaged when a part is missing or
    the whole fails its digest (a damaged file), AldeskError when there is no such encoder."""
    row = project.conn.execute("SELECT parts, sha256 FROM tuned_encoders WHERE identity = ?", (identity,)).fetchone()
    if row is None:
        raise AldeskError(f"{project.path} holds no fine-tuned encoder {identity}.")
    parts, digest = row
    blobs = project.conn.execute(
        "SELECT part, data FROM tuned_weight_parts WHERE identity = ? ORDER BY part", (identity,)
    ).fetchall()
    data = b"".join(bytes(blob) for _, blob in blobs)
    if [p for p, _ in blobs] != list(range(parts)) or hashlib.sha256(data).hexdigest() != digest:
        raise TunedWeightsDamaged(
            f"The fine-tuned encoder {identity} stored in {project.path} is damaged (its weights fail their check); "
            "your labels are not affected."
        )
    return data


def active_set(project: Project) -> EmbeddingSet | None:
    """The embedding set the rounds read: the adopted encoder's, else the newest set written that
    is not a tuned candidate; None before anything is embedded."""
    if not project.has_table("embedding_sets"):
        return None
    chosen = project.meta(ACTIVE_KEY)
    if chosen:
        found = find_set(project, chosen)
        if found is not None:
            return found
    candidates = "SELECT identity FROM tuned_encoders" if project.has_table("tuned_encoders") else "SELECT NULL WHERE 0"
    row = project.conn.execute(
        "SELECT s.id, s.backbone, s.identity, s.dim FROM embedding_sets s"
        " LEFT JOIN embedding_chunks c ON c.set_id = s.id"
        f" WHERE s.identity NOT IN ({candidates})"
        " GROUP BY s.id ORDER BY max(coalesce(c.id, 0)) DESC, s.id DESC LIMIT 1"
    ).fetchone()
    return EmbeddingSet(*row) if row else None


def pin_active(project: Project) -> None:
    """Name the set in use in the meta row before a tuned candidate's vectors are written, so a
    candidate never becomes the newest set by being written to."""
    if project.meta(ACTIVE_KEY):
        return
    current = active_set(project)
    if current is not None:
        project.set_meta(ACTIVE_KEY, current.identity)


def adopt(project: Project, identity: str) -> None:
    """Make the tuned encoder ``identity`` (stored, and its set embedded) the one in use: one
    meta row, so the switch is atomic; the next round reads its vectors."""
    if find_tuned(project, identity) is None or find_set(project, identity) is None:
        raise AldeskError(f"{project.path} holds no complete fine-tuned encoder {identity}; it cannot be used.")
    project.set_meta(ACTIVE_KEY, identity)


def go_back_to_pretrained(project: Project) -> None:
    """Use the pretrained encoder again (the adopted one's weights were found damaged); the
    tuned one is then unused, and discarded with the others."""
    active = project.meta(ACTIVE_KEY)
    tuned = find_tuned(project, active) if active else None
    if tuned is not None:
        project.set_meta(ACTIVE_KEY, tuned.base)


def discard(project: Project, identity: str, *, cancel: Callable[[], bool] | None = None) -> None:
    """Remove a tuned encoder that is not in use: its vectors first, then its weights, then its
    row, one short transaction per chunk or part (run from a background connection). Cut short
    (killed, ``cancel``), what is left is still found by ``unused`` and removed next time."""
    if project.meta(ACTIVE_KEY) == identity:
        raise AldeskError(f"The fine-tuned encoder {identity} is in use; it cannot be removed.")
    found = find_set(project, identity)
    if found is not None:
        for (chunk,) in project.conn.execute("SELECT id FROM embedding_chunks WHERE set_id = ?", (found.id,)).fetchall():
            if cancel is not None and cancel():
                return
            with project.transaction() as conn:
                conn.execute("DELETE FROM embedding_chunks WHERE id = ?", (chunk,))
        with project.transaction() as conn:
            if conn.execute("SELECT 1 FROM models WHERE set_id = ? LIMIT 1", (found.id,)).fetchone() is None:
                conn.execute("DELETE FROM embedding_sets WHERE id = ?", (found.id,))
    if project.has_table("tuned_weight_parts"):
        for (part,) in project.conn.execute(
            "SELECT part FROM tuned_weight_parts WHERE identity = ? ORDER BY part", (identity,)
        ).fetchall():
            if cancel is not None and cancel():
                return
            with project.transaction() as conn:
                conn.execute("DELETE FROM tuned_weight_parts WHERE identity = ? AND part = ?", (identity, part))
        with project.transaction() as conn:
            conn.execute("DELETE FROM tuned_encoders WHERE identity = ?", (identity,))


def unused(project: Project, keep_set: int | None) -> list[str]:
    """Tuned encoders neither in use nor read by the set ``keep_set`` (the latest model's):
    what may be discarded. Also the vectors of a tuning whose weights never got their row (a
    kill, a failed write) and of one whose removal was cut short: sets named as tuned
    (``TUNED_MARK``) without a row, unless in use or kept."""
    if not project.has_table("tuned_encoders"):
        return []
    active = project.meta(ACTIVE_KEY)
    rows = [identity for (identity,) in project.conn.execute("SELECT identity FROM tuned_encoders ORDER BY created_at")]
    orphans = [
        identity
        for (identity,) in project.conn.execute(
            "SELECT identity FROM embedding_sets WHERE instr(identity, ?) > 0 ORDER BY id", (TUNED_MARK,)
        )
        if identity not in rows
    ]
    out = []
    for identity in rows + orphans:
        found = find_set(project, identity)
        has_vectors = (
            found is not None
            and project.conn.execute("SELECT 1 FROM embedding_chunks WHERE set_id = ? LIMIT 1", (found.id,)).fetchone()
        )
        if identity == active or (found is not None and found.id == keep_set):
            continue
        if identity in rows or has_vectors:
            out.append(identity)
    return out


def describe_encoder(project: Project, embedding_set: EmbeddingSet) -> str:
    """How the window names the encoder of a set: its name, and the labels it was tuned on."""
    tuned = find_tuned(project, embedding_set.identity)
    return f"{embedding_set.backbone}, fine-tuned on {tuned.n_labels} labels" if tuned else embedding_set.backbone
