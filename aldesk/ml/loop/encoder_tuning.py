"""The background fine-tuning of the text encoder, as a job of messages (see jobs.py).

    labels so far (audits held out) -> tune a copy of the pretrained encoder -> its weights
    -> re-embed every item with it -> train the app's head on each encoder's vectors
    -> compare both on the audit labels -> adopt the tuned one when it is at least as good

The tuned encoder learns only from the labels of items the models chose (and of items the person
picked); the audit items, drawn uniformly, stay unseen by it, so both encoders are judged on the
same honest sample. The job reads the project and never writes: the window stores the weights
and the vectors it sends, then adopts the encoder (one meta row) when ``TuneOutcome.adopt``.

When a tuning is due and when it is adopted: tuning_plan.py (torch-free: the window asks it).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import numpy as np

from aldesk.core import items, vectors
from aldesk.core.store import Project, open_project
from aldesk.ml.encoders.encoder import Encoder
from aldesk.ml.encoders.minilm import TextEncoder
from aldesk.ml.heads.base import Fit, get_head, pool_input
from aldesk.ml.loop import tuning_plan
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.loop.snapshot import Snapshot, take_snapshot
from aldesk.ml.loop.tuning_plan import EMBED_STAGE, STAGE, TunedWeights, TuneOutcome

Message = tuple[str, Any]
Report = Callable[[str, Any], None]
Cancel = Callable[[], bool]


def tune_job(project_path: Path, base: TextEncoder, report: Report, cancel: Cancel) -> Generator[Message, None, None]:
    """The job's messages: "tuned_weights" (TunedWeights), "chunk" (the re-embedded items, as
    the embedding job sends them), "tune_done" (TuneOutcome). ``base``: the pretrained encoder.
    Ends without "tune_done" when cancelled or when there is nothing to tune on."""
    from aldesk.ml.loop.embedding import embedding_chunks, item_sources
    from aldesk.ml.loop.jobs import EmbedChunk

    with open_project(project_path, write=False, check=False) as project:
        # Checked on the ids alone first: the vectors are read only when there is something to tune on.
        light = take_snapshot(project, load_vectors=False)
        learn = ~_audits(light)
        if len(np.unique(light.y[learn])) < 2:
            return
        snapshot = take_snapshot(project, load_vectors=True)
        audit = _audits(snapshot)
        learn = ~audit
        ids = snapshot.item_ids[snapshot.labeled[learn]].tolist()
        texts_by_id = items.texts_of(project, ids)
        everything = [(i, project.resolve(p)) for i, p in vectors.unembedded(project, None)]
    texts = [texts_by_id[i] for i in ids if i in texts_by_id]
    y = snapshot.y[learn][[i in texts_by_id for i in ids]]
    if len(np.unique(y)) < 2:
        return
    yield "progress", (STAGE, 0, 1)
    tuned, weights = tuned_copy(base, texts, y, len(snapshot.class_ids), lambda d, t: report("progress", (STAGE, d, t)), cancel)
    if tuned is None:
        return
    yield "tuned_weights", TunedWeights(tuned.identity, base.identity, weights, len(texts))
    with open_project(project_path, write=False, check=False) as project:
        item_ids, sources = item_sources(project, everything, tuned)
    assert snapshot.vectors is not None  # loaded above
    # The tuned vectors in the pool's rows; an item the tuned encoder could not read keeps its
    # current vector (it then counts alike for both encoders).
    tuned_vectors = np.array(snapshot.vectors, dtype=np.float16, copy=True)
    for chunk in embedding_chunks(
        tuned, item_ids, sources, progress=lambda d, t: report("progress", (EMBED_STAGE, d, t)), cancel=cancel
    ):
        rows, hit = _rows_of(snapshot.item_ids, chunk.item_ids)
        tuned_vectors[rows[hit]] = chunk.vectors[hit]
        yield "chunk", EmbedChunk(tuned.spec.name, tuned.identity, tuned.spec.dim, chunk.item_ids, chunk.vectors, chunk.failures)
    if cancel():
        return
    yield "progress", ("comparing the encoders on the audits", 0, 1)
    outcome = TuneOutcome(
        tuned.identity,
        len(texts),
        int(audit.sum()),
        audit_correct(snapshot, tuned_vectors, cancel),
        audit_correct(snapshot, snapshot.vectors, cancel),
    )
    if not cancel():
        yield "tune_done", outcome


def tuned_copy(
    base: TextEncoder,
    texts: list[str],
    y: np.ndarray,
    n_classes: int,
    progress: Callable[[int, int], None] | None = None,
    cancel: Cancel | None = None,
) -> tuple[TextEncoder | None, bytes]:
    """The app's tuning of ``base`` on these labeled texts (tuning_plan.SETTINGS, else the measured
    default) and its weights as a project keeps them (float16 safetensors). The encoder returned is
    rebuilt from those weights, so its vectors match those of items embedded later. (None, b"")
    when cancelled."""
    from aldesk.ml.encoders.tuning import TuneSettings, encoder_from_state, fine_tune, tuned_state_bytes

    settings = tuning_plan.SETTINGS or TuneSettings()
    tuned = fine_tune(base, texts, y, n_classes, settings, progress=progress, cancel=cancel)
    if tuned is None:
        return None, b""
    weights = tuned_state_bytes(tuned, half=True)
    return encoder_from_state(base, weights, tuned.identity), weights


def _audits(snapshot: Snapshot) -> np.ndarray:
    return snapshot.audit if snapshot.audit is not None else np.zeros(len(snapshot.y), dtype=bool)


def _rows_of(pool_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    where = np.clip(np.searchsorted(pool_ids, ids), 0, max(len(pool_ids) - 1, 0))
    return where, pool_ids[where] == ids


def audit_correct(snapshot: Snapshot, pool_vectors: np.ndarray, cancel: Cancel | None = None) -> int:
    """How many audit labels the app's head, trained on the other labels over these vectors,
    predicts right."""
    audit = _audits(snapshot)
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
    except (TunedWeightsDamaged, AldeskError) as exc:
        return base, f"{exc} aldesk goes back to the pretrained encoder, and fine-tunes it again as labels come in."
