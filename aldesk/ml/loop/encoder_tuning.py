"""The background fine-tuning of the text encoder, as a job of messages (see jobs.py).

    labels so far (audits held out) -> tune a copy of the pretrained encoder -> its weights
    -> re-embed every item with it -> train the app's head on each encoder's vectors
    -> compare both on the audit labels -> adopt the tuned one when it is at least as good

The tuned encoder learns only from the labels of items the models chose (and of items the person
picked); the audit items, drawn uniformly, stay unseen by it, so both encoders are judged on the
same honest sample. The job reads the project and never writes: the window stores the weights
and the vectors it sends, then adopts the encoder (one meta row) when ``TuneOutcome.adopt``.

When: ``tuning_due``. From ``MIN_LABELS`` labels on (fine-tuning on 60-100 random TREC labels
already gave 0.88-0.90 against 0.69 frozen; docs/benchmarks.md), with at least ``MIN_AUDITS``
audits to compare on, and again each time the labels have grown by ``GROWTH`` (a tuning takes
about 20 s per 260 labels plus the re-embedding on 2 cores, so growth keeps the total bounded).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aldesk.core import items, vectors
from aldesk.core.store import Project, open_project
from aldesk.ml.encoders.encoder import Encoder
from aldesk.ml.heads.base import Fit, get_head, pool_input
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.loop.snapshot import Snapshot, take_snapshot

MIN_LABELS = 60  # labels the tuning learns from (audits not counted)
MIN_AUDITS = 10  # audit labels to compare the two encoders on
GROWTH = 1.5  # tune again once the learning labels have grown by this factor
SETTINGS: Any = None  # TuneSettings for the app's tunings; None: the measured default (TuneSettings())
STAGE = "fine-tuning the encoder"
EMBED_STAGE = "embedding with the fine-tuned encoder"

Message = tuple[str, Any]
Report = Callable[[str, Any], None]
Cancel = Callable[[], bool]


def tuning_due(n_learning: int, n_audits: int, tried_at: int | None) -> bool:
    """Whether a tuning should start, given the labels the tuning would learn from, the audit
    labels and the number of learning labels the last tuning had (None: never tuned)."""
    if n_learning < MIN_LABELS or n_audits < MIN_AUDITS:
        return False
    return tried_at is None or n_learning >= GROWTH * tried_at


@dataclass
class TunedWeights:
    identity: str
    base: str  # the pretrained encoder's identity
    weights: bytes  # safetensors, float16
    n_labels: int


@dataclass
class TuneOutcome:
    identity: str
    n_labels: int  # labels it learned from
    n_audits: int
    tuned_correct: int  # audit labels each encoder's model got right
    current_correct: int
    current: str  # the identity of the encoder it was compared with

    @property
    def adopt(self) -> bool:
        # Ties go to the tuned encoder: on every budget and data set measured it was ahead.
        return self.tuned_correct >= self.current_correct

    def words(self) -> str:
        return (
            f"the encoder fine-tuned on {self.n_labels} labels got {self.tuned_correct} of {self.n_audits} audit items right, "
            f"the one in use {self.current_correct}"
        )


def tune_job(project_path: Path, base: Any, report: Report, cancel: Cancel) -> Generator[Message, None, None]:
    """The job's messages: "tuned_weights" (TunedWeights), "chunk" (the re-embedded items, as
    the embedding job sends them), "tune_done" (TuneOutcome). ``base``: the pretrained
    TextEncoder. Ends without "tune_done" when cancelled or when there is nothing to tune on."""
    from aldesk.ml.encoders.tuning import TuneSettings, encoder_from_state, fine_tune, tuned_state_bytes
    from aldesk.ml.loop.embedding import embedding_chunks, item_sources
    from aldesk.ml.loop.jobs import EmbedChunk

    with open_project(project_path, write=False, check=False) as project:
        snapshot = take_snapshot(project, load_vectors=True)
        current = vectors.find_set_by_id(project, snapshot.set_id).identity
        audit = snapshot.audit if snapshot.audit is not None else np.zeros(len(snapshot.y), dtype=bool)
        learn = ~audit
        ids = snapshot.item_ids[snapshot.labeled[learn]].tolist()
        texts_by_id = items.texts_of(project, ids)
        everything = [(i, project.resolve(p)) for i, p in vectors.unembedded(project, None)]
    texts = [texts_by_id[i] for i in ids if i in texts_by_id]
    y = snapshot.y[learn][[i in texts_by_id for i in ids]]
    n_classes = len(snapshot.class_ids)
    if len(set(y.tolist())) < 2:
        return
    yield "progress", (STAGE, 0, 1)
    settings = SETTINGS or TuneSettings()
    tuned = fine_tune(base, texts, y, n_classes, settings, progress=lambda d, t: report("progress", (STAGE, d, t)), cancel=cancel)
    if tuned is None:
        return
    # The vectors come from the weights as stored (float16), so items embedded later match them.
    weights = tuned_state_bytes(tuned, half=True)
    tuned = encoder_from_state(base, weights, tuned.identity)
    yield "tuned_weights", TunedWeights(tuned.identity, base.identity, weights, len(texts))
    with open_project(project_path, write=False, check=False) as project:
        item_ids, sources = item_sources(project, everything, tuned)
    found: list[tuple[np.ndarray, np.ndarray]] = []
    for chunk in embedding_chunks(
        tuned, item_ids, sources, progress=lambda d, t: report("progress", (EMBED_STAGE, d, t)), cancel=cancel
    ):
        found.append((chunk.item_ids, chunk.vectors))
        yield "chunk", EmbedChunk(tuned.spec.name, tuned.identity, tuned.spec.dim, chunk.item_ids, chunk.vectors, chunk.failures)
    if cancel():
        return
    yield "progress", ("comparing the encoders on the audits", 0, 1)
    tuned_vectors = _aligned(snapshot.item_ids, found, snapshot.vectors)
    assert snapshot.vectors is not None  # loaded above
    outcome = TuneOutcome(
        tuned.identity,
        len(texts),
        int(audit.sum()),
        audit_correct(snapshot, tuned_vectors, cancel),
        audit_correct(snapshot, snapshot.vectors, cancel),
        current,
    )
    if not cancel():
        yield "tune_done", outcome


def _aligned(pool_ids: np.ndarray, found: list[tuple[np.ndarray, np.ndarray]], fallback: np.ndarray | None) -> np.ndarray:
    """The tuned vectors in the pool's row order; an item the tuned encoder could not read keeps
    its current vector (it counts alike for both encoders)."""
    assert fallback is not None
    out = np.array(fallback, dtype=np.float16, copy=True)
    for ids, vecs in found:
        where = np.searchsorted(pool_ids, ids)
        where = np.clip(where, 0, max(len(pool_ids) - 1, 0))
        hit = pool_ids[where] == ids
        out[where[hit]] = vecs[hit]
    return out


def audit_correct(snapshot: Snapshot, pool_vectors: np.ndarray, cancel: Cancel | None = None) -> int:
    """How many audit labels the app's head, trained on the other labels over these vectors,
    predicts right."""
    audit = snapshot.audit if snapshot.audit is not None else np.zeros(len(snapshot.y), dtype=bool)
    learn = ~audit
    if not audit.any() or len(np.unique(snapshot.y[learn])) < 2:
        return 0
    pool = PoolModel.build(pool_vectors)
    head = get_head("default", snapshot.backbone)
    task = Fit(snapshot.labeled[learn], snapshot.y[learn], len(snapshot.class_ids), None, False, cancel)
    model, _ = head.fit(pool, task)
    probs = model.predict_proba(pool_input(model, pool)).numpy()
    predicted = probs[snapshot.labeled[audit]].argmax(1)
    return int((predicted == snapshot.y[audit]).sum())


def encoder_in_use(project: Project, base: Encoder) -> tuple[Encoder, str | None]:
    """The encoder whose vectors the project's rounds read: ``base`` (the pretrained encoder),
    or the adopted fine-tuned one, rebuilt from its stored weights. With a message instead when
    those weights are damaged: then ``base``, and the caller who may write goes back to it
    (tuned_encoders.go_back_to_pretrained)."""
    from aldesk.core.errors import AldeskError
    from aldesk.core.tuned_encoders import TunedWeightsDamaged, active_set, find_tuned, read_weights
    from aldesk.ml.encoders.minilm import TextEncoder
    from aldesk.ml.encoders.tuning import encoder_from_state

    in_use = active_set(project)
    if in_use is None or in_use.identity == base.identity:
        return base, None
    tuned = find_tuned(project, in_use.identity)
    if tuned is None or tuned.base != base.identity:
        return base, None  # the set of another encoder: embedding goes on with the one asked for
    if not isinstance(base, TextEncoder):
        return base, None  # only the text encoder is fine-tuned
    try:
        return encoder_from_state(base, read_weights(project, tuned.identity), tuned.identity), None
    except TunedWeightsDamaged as exc:
        return base, str(exc)
    except AldeskError as exc:
        return base, f"{exc} aldesk goes back to the pretrained encoder."
