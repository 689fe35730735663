"""The background learning worker: one job at a time in its own QThread.

The worker reads the project through its own read-only connection and never writes: it sends
embedding chunks and refresh results to the GUI thread, which owns the writable connection and
stores them. Each result carries the generation it was computed for, so the window can drop
results that no longer apply. Cancellation is a flag checked between batches.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from aldesk.core.errors import AldeskError
from aldesk.core.queue import QueuedItem
from aldesk.core.store import open_project

log = logging.getLogger("aldesk.worker")

# The queue the worker hands over is longer than what the person sees at once, so it survives
# the labels given while the next refresh runs; the fallback ranking is longer still.
QUEUE_LENGTH = 40
FALLBACK_LENGTH = 400


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
    snapshot: Any  # aldesk.ml.workflow.Snapshot
    train: Any | None  # aldesk.ml.workflow.TrainResult, None before two classes have labels
    queue: list[QueuedItem]
    fallback: list[QueuedItem]
    metrics: dict[str, Any] = field(default_factory=dict)
    suspects: list | None = None  # aldesk.core.suspects_store.Suspect, most doubtful first


class LearningWorker(QObject):
    progress = Signal(str, int, int)  # stage, done, total
    chunk_ready = Signal(object)  # EmbedChunk
    embedding_done = Signal(int, str)  # generation, backbone name
    refreshed = Signal(object)  # RefreshOutcome
    failed = Signal(str, str)  # message for the person, details for the log
    idle = Signal()

    def __init__(self, project_path: Path, backbone: str | None = None) -> None:
        super().__init__()
        self.project_path = project_path
        self.backbone_name = backbone
        self._cancel = threading.Event()
        self._backbone = None
        self._pool = None
        self._pool_key: tuple | None = None
        self.slow_down_for_tests = 0.0  # seconds of extra work per refresh (tests of 'nobody waits')

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # -- jobs (slots run in the worker thread) -----------------------------------------------

    @Slot(int)
    def embed(self, generation: int) -> None:
        self._run(self._embed, generation)

    @Slot(int)
    def refresh(self, generation: int) -> None:
        self._run(self._refresh, generation)

    def _run(self, job, generation: int) -> None:
        try:
            job(generation)
        except AldeskError as exc:
            log.warning("%s", exc)
            self.failed.emit(str(exc), "")
        except Exception as exc:  # noqa: BLE001 - every failure must reach the person
            details = traceback.format_exc()
            log.error("worker failed: %s\n%s", exc, details)
            self.failed.emit(f"The background worker failed: {exc}", details)
        finally:
            self.idle.emit()

    def _load_backbone(self):
        if self._backbone is None:
            from aldesk.ml.backbones import load_backbone
            from aldesk.ml.device import configure_cpu_threads

            configure_cpu_threads()
            self.progress.emit("loading the backbone", 0, 1)
            self._backbone = load_backbone(self.backbone_name)
        return self._backbone

    def _embed(self, generation: int) -> None:
        from aldesk.core import vectors
        from aldesk.core.imageio import load_image
        from aldesk.ml.embed import embed_sources

        backbone = self._load_backbone()
        with open_project(self.project_path, write=False) as project:
            found = vectors.find_set(project, backbone.identity)
            done = set(vectors.embedded_ids(project, found.id).tolist()) if found else set()
            todo = [(i, project.resolve(p)) for i, p in project.conn.execute("SELECT id, path FROM items ORDER BY id") if i not in done]
        ids = np.array([i for i, _ in todo], dtype=np.int64)
        sources = [lambda path=path: load_image(path, max_side=backbone.load_side) for _, path in todo]
        for chunk in embed_sources(
            backbone, sources, progress=lambda d, t: self.progress.emit("embedding", d, t),
            cancel=self._cancel.is_set,
        ):
            self.chunk_ready.emit(EmbedChunk(
                generation, backbone.spec.name, backbone.identity, backbone.spec.dim,
                ids[chunk.positions], chunk.vectors,
                [(int(ids[pos]), reason) for pos, reason in chunk.failures],
            ))
        if not self.cancelled:
            self.embedding_done.emit(generation, backbone.spec.name)

    def _refresh(self, generation: int) -> None:
        from aldesk.core import vectors
        from aldesk.core.suspects_store import MAX_STORED
        from aldesk.ml.audit import EstimateCancelled
        from aldesk.ml.suspects import MIN_LABELS as MIN_SUSPECT_LABELS
        from aldesk.ml.suspects import suspects_for_snapshot
        from aldesk.ml.engine import NotEnoughLabels, PoolModel
        from aldesk.ml.strategies import margins
        from aldesk.ml.workflow import (
            evaluate_snapshot, pick_queue, previous_predictions, take_snapshot, train_snapshot,
        )

        self.progress.emit("training", 0, 1)
        with open_project(self.project_path, write=False) as project:
            if vectors.latest_set(project) is None:
                return  # nothing embedded yet (e.g. a project without images): nothing to learn
            snapshot = take_snapshot(project)
            previous = previous_predictions(project, snapshot)
        if self.cancelled:
            return
        key = (snapshot.set_id, len(snapshot.item_ids))
        if self._pool is None or self._pool_key != key:
            self._pool = PoolModel.build(snapshot.vectors)
            self._pool_key = key
        if self.slow_down_for_tests:
            self._cancel.wait(self.slow_down_for_tests)  # returns early when cancelled
        train = None
        try:
            train = train_snapshot(snapshot, self._pool, cancel=lambda: self.cancelled)
        except NotEnoughLabels:
            pass  # the cold start needs no model
        if self.cancelled:
            return
        if train is not None:
            self.progress.emit("estimating accuracy", 0, 1)
            try:
                train.metrics.update(evaluate_snapshot(snapshot, self._pool, train, previous,
                                                       cancel=self._cancel.is_set))
            except EstimateCancelled:
                return
        suspects = None
        if len(snapshot.y) >= MIN_SUSPECT_LABELS and not self.cancelled:
            self.progress.emit("checking labels", 0, 1)
            suspects = suspects_for_snapshot(snapshot, self._pool, limit=MAX_STORED)
        if self.cancelled:
            return
        self.progress.emit("scoring", 0, 1)
        probs = train.probs if train else None
        version = None  # the GUI thread assigns the version when it stores the model
        queue = pick_queue(snapshot, self._pool, probs, version, n=QUEUE_LENGTH)
        fallback = _ranking(snapshot, probs, margins, FALLBACK_LENGTH, {q.item_id for q in queue})
        self.refreshed.emit(RefreshOutcome(generation, snapshot, train, queue, fallback,
                                           train.metrics if train else {}, suspects))


def _ranking(snapshot, probs, margins, n: int, exclude: set[int]) -> list[QueuedItem]:
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


class WorkerThread(QThread):
    """Owns the worker's thread; ``stop`` cancels and waits, bounded."""

    def __init__(self, worker: LearningWorker) -> None:
        super().__init__()
        self.setObjectName("aldesk-learning-worker")
        self.worker = worker
        worker.moveToThread(self)

    def run(self) -> None:  # noqa: D102 - Qt's name; the thread's event loop
        lower_thread_priority()
        self.exec()

    def stop(self, timeout_ms: int = 10_000) -> bool:
        self.worker.cancel()
        self.quit()
        if self.wait(timeout_ms):
            return True
        # Still inside one long computation (it reads only; every label is already committed).
        # Destroying a running QThread aborts the process, so keep it referenced until it ends;
        # the app waits for such threads once more before it exits (wait_for_unfinished).
        _UNFINISHED.add(self)
        self.finished.connect(lambda: _UNFINISHED.discard(self))
        return False


_UNFINISHED: set[WorkerThread] = set()


def wait_for_unfinished(timeout_ms: int = 30_000) -> bool:
    """At exit: wait for worker threads that did not stop in time; True if none is left."""
    for thread in list(_UNFINISHED):
        if thread.wait(timeout_ms):
            _UNFINISHED.discard(thread)
    return not _UNFINISHED


# Niceness of the learning thread: the person's key presses and the image decodes for the next
# items come first (a decode starved by training made the next key press wait; see
# benchmarks/bench_keypress.py); training still gets every core nobody else wants.
BACKGROUND_NICE = 5


def lower_thread_priority() -> None:
    """Lower the calling thread's CPU priority; on Linux niceness is per thread and the threads it
    starts (torch's intra-op pool) inherit it. Elsewhere a no-op (it would lower the process)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), BACKGROUND_NICE))
    except OSError as exc:
        log.info("cannot lower the learning thread's priority: %s", exc)
