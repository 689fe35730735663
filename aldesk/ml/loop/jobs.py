"""The app's background jobs, embed, refresh and tune, free of Qt and of any thread.

Each job is a generator of messages ``(kind, payload)``: kind "progress" ((stage, done, total)),
"chunk" (EmbedChunk), "embedding_done" (backbone name), "refreshed" (RefreshOutcome), and for the
tune job (encoder_tuning.py) "tuned_weights", "tune_done" and "tuned_damaged" (a message). Between
two messages is where a job may be cancelled. A ``JobRunner`` reads the project through its own
read-only connection and never writes: whoever owns the writable connection stores what the
messages carry. The runner keeps the backbone and the pool's features between jobs. It runs
either in a separate process (compute_process.py; the app's default, so the training's Python
code never competes with the window for the interpreter lock) or in a thread.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aldesk.core.queue import QueuedItem
from aldesk.core.store import open_project

# The window imports this module (its worker relays these messages); the round, the heads and
# torch are imported only where a job runs (the learning process), so the window starts without them.
if TYPE_CHECKING:
    from aldesk.core.suspects_store import Suspect
    from aldesk.ml.loop.round import RoundSettings, TrainResult
    from aldesk.ml.loop.snapshot import Snapshot
    from aldesk.ml.encoders import Encoder
    from aldesk.ml.loop.pool import PoolModel

# The queue handed over is longer than what the person sees at once, so it survives the labels
# given while the next refresh runs; the fallback ranking is longer still.
QUEUE_LENGTH = 40
FALLBACK_LENGTH = 400

Message = tuple[str, Any]
Emit = Callable[[str, Any], None]


@dataclass
class EmbedChunk:
    backbone: str
    identity: str
    dim: int
    item_ids: np.ndarray
    vectors: np.ndarray
    failures: list[tuple[int, str]]


@dataclass
class RefreshOutcome:
    snapshot: Snapshot  # without its vectors (the GUI never needs them)
    train: TrainResult | None  # None before two classes have labels
    queue: list[QueuedItem]
    fallback: list[QueuedItem]
    metrics: dict[str, Any] = field(default_factory=dict)
    suspects: list[Suspect] | None = None  # most doubtful first


def app_round_settings() -> RoundSettings:
    """The round the app runs after new labels: everything the window shows."""
    from aldesk.core.suspects_store import MAX_STORED
    from aldesk.ml.loop.round import RoundSettings

    return RoundSettings(
        queue_length=QUEUE_LENGTH, fallback_length=FALLBACK_LENGTH, evaluate=True, suspects=True, suspects_limit=MAX_STORED
    )


class JobRunner:
    def __init__(self, project_path: Path, backbone: str | None, cancelled: Callable[[], bool]) -> None:
        self.project_path = project_path
        self.backbone_name = backbone
        self.cancelled = cancelled
        self._base: Encoder | None = None  # the pretrained encoder
        self._backbone: Encoder | None = None  # the one in use: the base, or a fine-tuned copy
        self._kind_name: str | None = None
        self._pool: PoolModel | None = None
        self._pool_key: tuple[int, int, int] | None = None
        self._emit: Emit | None = None

    def run(self, job: str, emit: Emit, slow_down: float = 0.0) -> None:
        """Run ``job`` to its end (or until cancelled), handing each message to ``emit``."""
        if job == "embed":
            messages = self.embed()
        elif job == "refresh":
            messages = self.refresh(slow_down)
        elif job == "tune":
            messages = self.tune()
        else:
            raise ValueError(f"unknown background job {job!r}")
        self._emit = emit
        for kind, payload in messages:
            emit(kind, payload)
            if self.cancelled():
                messages.close()
                return

    def _load_backbone(self) -> Iterator[Message]:
        """The encoder the project's vectors come from: the pretrained one, loaded once, or the
        fine-tuned one adopted since (rebuilt from its stored weights, kept while in use)."""
        yield from self._load_base()
        base = self._base
        assert base is not None  # loaded just above
        if self._kind() != "text":
            self._backbone = base
            return
        from aldesk.core.tuned_encoders import active_set
        from aldesk.ml.loop.encoder_tuning import encoder_in_use

        with open_project(self.project_path, write=False, check=False) as project:
            in_use = active_set(project)
            if self._backbone is not None and in_use is not None and self._backbone.identity == in_use.identity:
                return
            self._backbone, problem = encoder_in_use(project, base)
        if problem:
            yield "tuned_damaged", problem

    def _load_base(self) -> Iterator[Message]:
        if self._base is None:
            from aldesk.ml.device import configure_cpu_threads
            from aldesk.ml.encoders import load_encoder

            configure_cpu_threads()
            yield "progress", ("loading the encoder" if self._kind() != "image" else "loading the backbone", 0, 1)
            self._base = load_encoder(self.backbone_name, kind=self._kind())

    def _kind(self) -> str:
        if self._kind_name is None:
            from aldesk.core.kinds import kind_of

            with open_project(self.project_path, write=False, check=False) as project:
                self._kind_name = kind_of(project).name
        return self._kind_name

    def embed(self) -> Generator[Message, None, None]:
        from aldesk.ml.device import describe_device
        from aldesk.ml.loop.embedding import embedding_chunks, item_sources, missing_items

        yield from self._load_backbone()
        backbone = self._backbone
        assert backbone is not None  # loaded just above
        stage = f"embedding on {describe_device(backbone.device)}"  # e.g. "on cuda:0 (NVIDIA ...)", "on cpu, 2 threads"
        with open_project(self.project_path, write=False, check=False) as project:
            ids, sources = item_sources(project, missing_items(project, backbone), backbone)
        # Progress comes per batch from inside the embedding, chunks every few batches: the
        # batches are reported as they finish (straight to emit), not held back to the next chunk.
        report = self._emit or (lambda _kind, _payload: None)
        for chunk in embedding_chunks(
            backbone, ids, sources, progress=lambda d, t: report("progress", (stage, d, t)), cancel=self.cancelled
        ):
            yield (
                "chunk",
                EmbedChunk(
                    backbone.spec.name, backbone.identity, backbone.spec.dim, chunk.item_ids, chunk.vectors, chunk.failures
                ),
            )
        if not self.cancelled():
            yield "embedding_done", backbone.spec.name

    def tune(self) -> Generator[Message, None, None]:
        """Fine-tune the text encoder on the labels and re-embed (encoder_tuning.py); it starts
        from the pretrained encoder, so the adopted one is not rebuilt here."""
        from aldesk.ml.encoders.minilm import TextEncoder
        from aldesk.ml.loop.encoder_tuning import tune_job

        if self._kind() != "text":
            return
        yield from self._load_base()
        if not isinstance(self._base, TextEncoder):
            return  # only the text encoder is fine-tuned
        report = self._emit or (lambda _kind, _payload: None)
        yield from tune_job(self.project_path, self._base, report, self.cancelled)

    def refresh(self, slow_down: float = 0.0) -> Generator[Message, None, None]:
        from aldesk.core.tuned_encoders import active_set
        from aldesk.ml.loop.pool import build_pool
        from aldesk.ml.loop.round import round_steps
        from aldesk.ml.loop.snapshot import pool_key, take_snapshot

        yield "progress", ("training", 0, 1)
        with open_project(self.project_path, write=False, check=False) as project:
            if active_set(project) is None:
                return  # nothing embedded yet (e.g. a project without images): nothing to learn
            # Only the ids: the pool kept from the last refresh already holds the features, and a
            # new one is built from the file chunk by chunk (1M x 1,280-d: 1.9 GB peak, not 4.6).
            snapshot = take_snapshot(project, load_vectors=False, with_predictions=True)
            key = pool_key(snapshot)
            if self._pool is None or self._pool_key != key:
                self._pool = None  # the old features are freed before the new ones are built
                self._pool = build_pool(project, snapshot)
                self._pool_key = key
        _sleep_unless_cancelled(slow_down, self.cancelled)
        steps = round_steps(snapshot, self._pool, app_round_settings(), cancel=self.cancelled)
        while True:
            if self.cancelled():
                steps.close()
                return
            try:
                step = next(steps)
            except StopIteration as done:
                result = done.value
                break
            if step[0] != "training":  # announced above, before the snapshot
                yield "progress", step
        if result is None or self.cancelled():
            return
        # 100k x 1,280 float16 vectors would be 256 MB to send; the window needs neither them nor the old predictions.
        light = dataclasses.replace(snapshot, vectors=None, previous_predicted=None)
        yield "refreshed", RefreshOutcome(light, result.train, result.queue, result.fallback, result.metrics, result.suspects)


def _sleep_unless_cancelled(seconds: float, cancelled: Callable[[], bool]) -> None:
    """Extra work per refresh for tests of 'nobody waits'; returns early when cancelled."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not cancelled():
        time.sleep(0.05)
