"""The learning loop's two background jobs, embed and refresh, free of Qt and of any thread.

A ``JobRunner`` reads the project through its own read-only connection and never writes: it
hands embedding chunks and refresh results to ``emit``; whoever owns the writable connection
stores them. The runner keeps the backbone and the pool's features between jobs. It runs either
in a separate process (aldesk/ml/loop/compute_process.py; the app's default, so the training's
Python code never competes with the window for the interpreter lock) or in a thread.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from aldesk.core.queue import QueuedItem
from aldesk.core.store import open_project

# The queue handed over is longer than what the person sees at once, so it survives the labels
# given while the next refresh runs; the fallback ranking is longer still.
QUEUE_LENGTH = 40
FALLBACK_LENGTH = 400

# emit(kind, payload): kind is "progress" ((stage, done, total)), "chunk" (EmbedChunk),
# "embedding_done" (backbone name) or "refreshed" (RefreshOutcome).
Emit = Callable[[str, Any], None]


@dataclass
class EmbedChunk:
    generation: int
    backbone: str
    identity: str
    dim: int
    item_ids: np.ndarray
    vectors: np.ndarray
    failures: list[tuple[int, str]]


@dataclass
class RefreshOutcome:
    generation: int
    snapshot: Any  # aldesk.ml.loop.workflow.Snapshot without its vectors (the GUI never needs them)
    train: Any | None  # aldesk.ml.loop.workflow.TrainResult, None before two classes have labels
    queue: list[QueuedItem]
    fallback: list[QueuedItem]
    metrics: dict[str, Any] = field(default_factory=dict)
    suspects: list | None = None  # aldesk.core.suspects_store.Suspect, most doubtful first


class JobRunner:
    def __init__(self, project_path: Path, backbone: str | None, cancelled: Callable[[], bool]) -> None:
        self.project_path = project_path
        self.backbone_name = backbone
        self.cancelled = cancelled
        self._backbone = None
        self._pool = None
        self._pool_key: tuple | None = None

    def run(self, job: str, generation: int, emit: Emit, slow_down: float = 0.0) -> None:
        if job == "embed":
            self.embed(generation, emit)
        elif job == "refresh":
            self.refresh(generation, emit, slow_down)
        else:
            raise ValueError(f"unknown background job {job!r}")

    def _load_backbone(self, emit: Emit):
        if self._backbone is None:
            from aldesk.ml.encoders import load_backbone
            from aldesk.ml.device import configure_cpu_threads

            configure_cpu_threads()
            emit("progress", ("loading the backbone", 0, 1))
            self._backbone = load_backbone(self.backbone_name)
        return self._backbone

    def embed(self, generation: int, emit: Emit) -> None:
        from aldesk.core import vectors
        from aldesk.core.imageio import load_image
        from aldesk.ml.device import describe_device
        from aldesk.ml.encoders.embed import embed_sources

        backbone = self._load_backbone(emit)
        stage = f"embedding on {describe_device(backbone.device)}"  # e.g. "on cuda:0 (NVIDIA ...)", "on cpu, 2 threads"
        with open_project(self.project_path, write=False, check=False) as project:
            found = vectors.find_set(project, backbone.identity)
            # Sorted id arrays, and paths only of the missing items: every app start runs this.
            todo = [(i, project.resolve(p)) for i, p in vectors.unembedded(project, found.id if found else None)]
        ids = np.array([i for i, _ in todo], dtype=np.int64)
        sources = [lambda path=path: load_image(path, max_side=backbone.load_side) for _, path in todo]
        for chunk in embed_sources(
            backbone, sources, progress=lambda d, t: emit("progress", (stage, d, t)),
            cancel=self.cancelled,
        ):
            emit("chunk", EmbedChunk(
                generation, backbone.spec.name, backbone.identity, backbone.spec.dim,
                ids[chunk.positions], chunk.vectors,
                [(int(ids[pos]), reason) for pos, reason in chunk.failures],
            ))
        if not self.cancelled():
            emit("embedding_done", backbone.spec.name)

    def refresh(self, generation: int, emit: Emit, slow_down: float = 0.0) -> None:
        from aldesk.core import vectors
        from aldesk.core.suspects_store import MAX_STORED
        from aldesk.ml.evaluation.audit import EstimateCancelled
        from aldesk.ml.loop.pool import NotEnoughLabels
        from aldesk.ml.strategies import margins
        from aldesk.ml.evaluation.suspects import MIN_LABELS as MIN_SUSPECT_LABELS
        from aldesk.ml.evaluation.suspects import suspects_for_snapshot
        from aldesk.ml.loop.workflow import (
            build_pool, evaluate_snapshot, pick_queue, pool_key, previous_predictions, take_snapshot,
            train_snapshot,
        )

        emit("progress", ("training", 0, 1))
        with open_project(self.project_path, write=False, check=False) as project:
            if vectors.latest_set(project) is None:
                return  # nothing embedded yet (e.g. a project without images): nothing to learn
            # Only the ids: the pool kept from the last refresh already holds the features, and a
            # new one is built from the file chunk by chunk (1M x 1,280-d: 1.9 GB peak, not 4.6).
            snapshot = take_snapshot(project, load_vectors=False)
            previous = previous_predictions(project, snapshot)
            key = pool_key(snapshot)
            if self._pool is None or self._pool_key != key:
                self._pool = None  # the old features are freed before the new ones are built
                self._pool = build_pool(project, snapshot)
                self._pool_key = key
        if self.cancelled():
            return
        _sleep_unless_cancelled(slow_down, self.cancelled)
        train = None
        try:
            train = train_snapshot(snapshot, self._pool, cancel=self.cancelled)
        except NotEnoughLabels:
            pass  # the cold start needs no model
        if self.cancelled():
            return
        if train is not None:
            emit("progress", ("estimating accuracy", 0, 1))
            try:
                train.metrics.update(evaluate_snapshot(snapshot, self._pool, train, previous, cancel=self.cancelled))
            except EstimateCancelled:
                return
        suspects = None
        if len(snapshot.y) >= MIN_SUSPECT_LABELS and not self.cancelled():
            emit("progress", ("checking labels", 0, 1))
            suspects = suspects_for_snapshot(snapshot, self._pool, limit=MAX_STORED)
        if self.cancelled():
            return
        emit("progress", ("scoring", 0, 1))
        probs = train.probs if train else None
        version = None  # the owner of the project assigns the version when it stores the model
        queue = pick_queue(snapshot, self._pool, probs, version, n=QUEUE_LENGTH)
        fallback = ranking(snapshot, probs, margins, FALLBACK_LENGTH, {q.item_id for q in queue})
        light = dataclasses.replace(snapshot, vectors=None)  # 100k x 1,280 float16 would be 256 MB to send
        emit("refreshed", RefreshOutcome(generation, light, train, queue, fallback,
                                         train.metrics if train else {}, suspects))


def _sleep_unless_cancelled(seconds: float, cancelled: Callable[[], bool]) -> None:
    """Extra work per refresh for tests of 'nobody waits'; returns early when cancelled."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not cancelled():
        time.sleep(0.05)


def ranking(snapshot, probs, margins, n: int, exclude: set[int]) -> list[QueuedItem]:
    """The most uncertain eligible items by margin (or a random order before any model)."""
    eligible = np.flatnonzero(snapshot.eligible)
    if probs is None:
        order = np.random.default_rng(0).permutation(eligible)
        scores = np.zeros(len(order))
        strategy = "random"
    else:
        m = margins(probs[eligible])
        order = eligible[np.argsort(m, kind="stable")]
        scores = np.sort(m, kind="stable")
        strategy = "margin"
    out = []
    for pos, score in zip(order, scores):
        item = int(snapshot.item_ids[pos])
        if item not in exclude:
            out.append(QueuedItem(item, len(out) + 1, None, strategy, float(score)))
        if len(out) == n:
            break
    return out
