"""Computing embeddings: images decoded and resized in worker threads while the backbone runs.

Decoding batch i+1 overlaps the forward pass of batch i, so on photos the backbone, not
Pillow, sets the pace. Results come out in chunks; the caller stores each chunk before asking
for the next, which makes an interrupted run resumable.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from aldesk.core.errors import ImageError
from aldesk.ml.backbones import Backbone

ImageSource = Callable[[], Image.Image]  # returns an RGB image, raises ImageError when unusable
Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


@dataclass
class EmbeddedChunk:
    positions: np.ndarray  # indices into the sources that were embedded
    vectors: np.ndarray  # [len(positions), dim] float32
    failures: list[tuple[int, str]] = field(default_factory=list)  # (position, reason)


def default_batch_size(backbone: Backbone) -> int:
    # Memory grows with input area; 32 at 224 px fits comfortably on CPU and small GPUs.
    side = backbone.spec.input_size
    return int(max(8, min(256, 32 * (224 * 224) // max(side * side, 1))))


def embed_sources(
    backbone: Backbone,
    sources: Sequence[ImageSource],
    *,
    batch_size: int | None = None,
    chunk_batches: int = 8,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    workers: int | None = None,
) -> Iterator[EmbeddedChunk]:
    """Yield embeddings chunk by chunk (``chunk_batches`` batches each) in source order."""
    batch_size = batch_size or default_batch_size(backbone)
    workers = workers or max(1, min(4, (os.cpu_count() or 2)))
    total = len(sources)
    done = 0
    if progress:
        progress(0, total)

    def prepare(position: int) -> tuple[int, torch.Tensor | None, str | None]:
        try:
            return position, backbone.preprocess(sources[position]()), None
        except ImageError as exc:
            return position, None, exc.reason
        except OSError as exc:
            return position, None, f"unreadable: {exc.strerror or exc}"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future] = deque()
        next_position = 0
        lookahead = 2 * batch_size  # enough decoded ahead to keep the backbone busy
        positions: list[int] = []
        vectors: list[np.ndarray] = []
        failures: list[tuple[int, str]] = []
        batch: list[tuple[int, torch.Tensor]] = []
        while next_position < total or pending:
            while next_position < total and len(pending) < lookahead + batch_size:
                pending.append(pool.submit(prepare, next_position))
                next_position += 1
            position, tensor, reason = pending.popleft().result()
            if tensor is None:
                failures.append((position, reason or "unusable"))
            else:
                batch.append((position, tensor))
            done += 1
            if len(batch) == batch_size or (not pending and next_position >= total):
                if batch:
                    if cancel and cancel():
                        for future in pending:
                            future.cancel()
                        if positions or failures:  # keep what is already computed
                            yield _chunk(positions, vectors, failures, backbone.spec.dim)
                        return
                    out = backbone.embed(torch.stack([t for _, t in batch]))
                    positions.extend(p for p, _ in batch)
                    vectors.append(out.numpy())
                    batch = []
                if progress:
                    progress(done, total)
                if len(positions) >= chunk_batches * batch_size or (not pending and next_position >= total):
                    yield _chunk(positions, vectors, failures, backbone.spec.dim)
                    positions, vectors, failures = [], [], []
        if positions or failures:
            yield _chunk(positions, vectors, failures, backbone.spec.dim)


def _chunk(positions: list[int], vectors: list[np.ndarray], failures: list[tuple[int, str]], dim: int) -> EmbeddedChunk:
    stacked = np.concatenate(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
    return EmbeddedChunk(np.array(positions, dtype=np.int64), stacked, list(failures))
