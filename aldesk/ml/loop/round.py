"""One learning round: the labels so far in, a model and the next questions out.

    snapshot + pool + settings -> train the head -> estimate its accuracy -> check the labels
                               -> score the pool -> pick the queue (and a longer fallback)

Plain data in, plain data out: no database, no thread, no Qt. The app's background job, ``aldesk
train`` / ``aldesk query`` and the simulation all run this one round, each with its settings. It
is a generator (``round_steps``) whose yields are progress reports and cancellation points, so the
worker, a terminal progress bar and the simulation's loop drive it alike; ``run_round`` drives it
to the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from aldesk.core.errors import AldeskError
from aldesk.core.queue import QueuedItem
from aldesk.ml.heads.base import Fit, Model, get_head, pool_input
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.loop.snapshot import Snapshot
from aldesk.ml.strategies import PoolState, Selection, get_strategy, margins

if TYPE_CHECKING:
    from aldesk.core.suspects_store import Suspect

Cancel = Callable[[], bool]
Step = tuple[str, int, int]  # (stage, done, total), e.g. ("training", 0, 1)
Progress = Callable[[str, int, int], None]
Steps = Generator[Step, None, "RoundResult | None"]  # returns None when cancelled
Result = TypeVar("Result")  # what a job generator returns (drive)


@dataclass(frozen=True)
class RoundSettings:
    head: str = "default"  # a registered head (heads/base.py); default: the app's head for the encoder
    strategy: str = "default"  # a query strategy (strategies.py)
    # The strategy while no model exists, for strategies that need one; None: that is an error.
    cold_start: str | None = "default"
    queue_length: int = 20  # 0: pick nothing (aldesk train)
    fallback_length: int = 0  # a longer margin ranking after the queue (the app's spare questions)
    train: bool = True  # False: score with the snapshot's stored model instead (aldesk query)
    calibrate: bool = True  # out-of-fold temperature (costs fits; the simulation skips it where unread)
    score: bool = True  # predict the whole pool (needed by every strategy but random)
    evaluate: bool = False  # the audit estimate, gain per 100 labels, agreement with the last model
    suspects: bool = False  # rank labels the held-out heads disagree with
    suspects_limit: int | None = None
    seed: int | None = None  # the strategies' random choices (None: fresh each round)


@dataclass
class TrainResult:
    head: Model
    probs: np.ndarray | None  # [N, K] for the whole pool (None when the round did not score)
    metrics: dict[str, Any]


@dataclass
class RoundResult:
    train: TrainResult | None  # None before two classes have labels, or when the round did not train
    probs: np.ndarray | None  # what the queue was picked with: the new model's, or the stored one's
    selection: Selection | None
    queue: list[QueuedItem]
    fallback: list[QueuedItem]
    suspects: list[Suspect] | None = None  # most doubtful first
    seconds: dict[str, float] = field(default_factory=dict)  # time per step

    @property
    def metrics(self) -> dict[str, Any]:
        return self.train.metrics if self.train else {}


def round_steps(
    snapshot: Snapshot,
    pool: PoolModel,
    settings: RoundSettings,
    *,
    rng: np.random.Generator | None = None,
    cancel: Cancel | None = None,
) -> Steps:
    """The round as steps. ``rng`` overrides ``settings.seed`` (the
    simulation threads one generator through all its rounds). ``cancel`` is also checked inside
    long steps (the CNN's training, the audit's fits)."""
    seconds: dict[str, float] = {}
    train, probs = None, None
    yield ("training", 0, 1)
    start = time.perf_counter()
    if settings.train:
        train = _train(snapshot, pool, settings, cancel)
        probs = train.probs if train else None
    elif settings.score and snapshot.previous is not None:
        probs = snapshot.previous.predict_proba(pool_input(snapshot.previous, pool)).numpy()
    seconds["train"] = time.perf_counter() - start
    if train is not None and settings.evaluate:
        yield ("estimating accuracy", 0, 1)
        from aldesk.ml.evaluation.audit import EstimateCancelled

        start = time.perf_counter()
        try:
            train.metrics.update(_evaluate(snapshot, pool, train, cancel))
        except EstimateCancelled:
            return None
        seconds["evaluate"] = time.perf_counter() - start
    suspects = None
    if settings.suspects:
        from aldesk.ml.evaluation.suspects import MIN_LABELS, suspects_for_snapshot

        if len(snapshot.y) >= MIN_LABELS:
            yield ("checking labels", 0, 1)
            start = time.perf_counter()
            suspects = suspects_for_snapshot(snapshot, pool, limit=settings.suspects_limit)
            seconds["suspects"] = time.perf_counter() - start
    yield ("scoring", 0, 1)
    start = time.perf_counter()
    version = None if settings.train else snapshot.previous_version  # the owner numbers a new model
    selection, queue, fallback = None, [], []
    if settings.queue_length > 0:
        rng = rng if rng is not None else np.random.default_rng(settings.seed)
        selection = select(snapshot, pool, probs, settings, rng)
        queue = [
            QueuedItem(int(snapshot.item_ids[i]), rank, version, selection.strategy, float(score))
            for rank, (i, score) in enumerate(zip(selection.indices, selection.scores), start=1)
        ]
    if settings.fallback_length > 0:
        fallback = ranking(snapshot, probs, settings.fallback_length, {q.item_id for q in queue}, version)
    seconds["select"] = time.perf_counter() - start
    return RoundResult(train, probs, selection, queue, fallback, suspects, seconds)


def run_round(
    snapshot: Snapshot, pool: PoolModel, settings: RoundSettings, *, progress: Progress | None = None, **options: Any
) -> RoundResult | None:
    """The whole round (``options``: round_steps' ``rng`` and ``cancel``); None when cancelled."""
    return drive(round_steps(snapshot, pool, settings, **options), progress=progress, cancel=options.get("cancel"))


def drive(
    steps: Generator[Step, None, Result], *, progress: Progress | None = None, cancel: Cancel | None = None
) -> Result | None:
    """Run a job generator to its end: each yield goes to ``progress``, and is where ``cancel``
    is asked; returns what the generator returns, or None when cancelled."""
    while True:
        if cancel is not None and cancel():
            steps.close()
            return None
        try:
            step = next(steps)
        except StopIteration as done:
            return None if cancel is not None and cancel() else done.value
        if progress is not None:
            progress(*step)


def _train(snapshot: Snapshot, pool: PoolModel, settings: RoundSettings, cancel: Cancel | None) -> TrainResult | None:
    if len(np.unique(snapshot.y)) < 2:
        return None  # the cold start needs no model
    head = get_head(settings.head, snapshot.backbone)
    task = Fit(snapshot.labeled, snapshot.y, len(snapshot.class_ids), snapshot.previous, settings.calibrate, cancel)
    model, metrics = head.fit(pool, task)
    probs = None
    if settings.score:
        start = time.perf_counter()
        probs = model.predict_proba(pool_input(model, pool)).numpy()
        metrics["score_seconds"] = time.perf_counter() - start
    return TrainResult(model, probs, metrics)


def _evaluate(snapshot: Snapshot, pool: PoolModel, train: TrainResult, cancel: Cancel | None) -> dict[str, Any]:
    """Accuracy estimate from the audit labels, gain per 100 labels, agreement with the
    previous model (aldesk/ml/evaluation/audit.py explains each)."""
    from aldesk.ml.evaluation.audit import evaluate_model

    audit = snapshot.audit if snapshot.audit is not None else np.zeros(len(snapshot.y), dtype=bool)
    order = snapshot.label_order if snapshot.label_order is not None else np.arange(len(snapshot.y))
    return evaluate_model(
        pool,
        snapshot.labeled,
        snapshot.y,
        audit,
        order,
        len(snapshot.class_ids),
        head=train.metrics.get("head", "default"),
        init=train.head,
        probs=train.probs,
        previous_predictions=snapshot.previous_predicted,
        cancel=cancel,
    )


def select(
    snapshot: Snapshot, pool: PoolModel, probs: np.ndarray | None, settings: RoundSettings, rng: np.random.Generator
) -> Selection:
    """The strategy's pick of ``settings.queue_length`` eligible items."""
    strategy = get_strategy(settings.strategy)
    if probs is None and strategy.needs_model:
        if settings.cold_start is None:
            raise AldeskError(f"The {settings.strategy!r} strategy needs a trained model; run aldesk train first.")
        strategy = get_strategy(settings.cold_start)
    state = PoolState(
        z=pool.z,
        eligible=snapshot.eligible,
        probs=probs,
        label_counts=np.bincount(snapshot.y, minlength=len(snapshot.class_ids)),
        rng=rng,
    )
    return strategy.select(state, settings.queue_length)


def ranking(
    snapshot: Snapshot, probs: np.ndarray | None, n: int, exclude: set[int], version: int | None = None
) -> list[QueuedItem]:
    """The most uncertain eligible items by margin (a fixed random order before any model):
    the questions to ask when the queue runs out before the next round ends."""
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
    out: list[QueuedItem] = []
    for pos, score in zip(order, scores):
        item = int(snapshot.item_ids[pos])
        if item not in exclude:
            out.append(QueuedItem(item, len(out) + 1, version, strategy, float(score)))
        if len(out) == n:
            break
    return out
