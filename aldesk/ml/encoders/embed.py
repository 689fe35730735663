"""Computing embeddings: images decoded and resized in worker threads while the backbone runs.

Decoding batch i+1 overlaps the forward pass of batch i, so on photos the backbone, not
Pillow, sets the pace. Results come out in chunks; the caller stores each chunk before asking
for the next, which makes an interrupted run resumable.

On a CUDA device the batch size comes from the device's free memory and the backbone's measured
activation size; batches are stacked in pinned host memory (the copy to the GPU then runs
asynchronously), and an out-of-memory error halves the batch and retries the same images, so
none is lost. The CPU path is unchanged: batch size from the input size alone.
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

from aldesk.core.errors import AldeskError, ImageError
from aldesk.ml.encoders import Backbone
from aldesk.ml.device import free_memory, is_cuda, is_out_of_memory, release_cached_memory, rows_that_fit

ImageSource = Callable[[], Image.Image]  # returns an RGB image, raises ImageError when unusable
Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


@dataclass
class EmbeddedChunk:
    positions: np.ndarray  # indices into the sources that were embedded
    vectors: np.ndarray  # [len(positions), dim] float32 (float16 from a GPU under mixed precision)
    failures: list[tuple[int, str]] = field(default_factory=list)  # (position, reason)


# GPU batches: beyond a few hundred images throughput stops growing, while chunks (what an
# interruption can lose) and the cancel latency keep growing; multiples of 8 suit tensor cores.
GPU_MAX_BATCH = 256
GPU_BATCH_MULTIPLE = 8


def default_batch_size(backbone: Backbone) -> int:
    """On CUDA: what fits in the free memory (:func:`gpu_batch_size`); elsewhere by input size."""
    if is_cuda(backbone.device):
        return gpu_batch_size(free_memory(backbone.device) or 0, backbone.bytes_per_image())
    # Memory grows with input area; 32 at 224 px fits comfortably on CPU and small GPUs.
    side = backbone.spec.input_size
    return int(max(8, min(256, 32 * (224 * 224) // max(side * side, 1))))


def gpu_batch_size(free_bytes: int, bytes_per_image: int) -> int:
    """Images per batch for a GPU with ``free_bytes`` free, at ``bytes_per_image`` each: half
    the free memory at most (cuDNN workspaces, allocator rounding), 1 to GPU_MAX_BATCH."""
    return rows_that_fit(bytes_per_image, free_bytes, maximum=GPU_MAX_BATCH, multiple=GPU_BATCH_MULTIPLE)


class BatchRunner:
    """Runs prepared tensors through the backbone, in sub-batches of at most ``limit``; an
    out-of-memory error halves ``limit`` and retries the same tensors (kept for the rest of the
    run), so every image is embedded or the error says that even one image does not fit."""

    def __init__(self, backbone: Backbone, limit: int) -> None:
        self.backbone = backbone
        self.limit = max(1, limit)
        self.pinned = is_cuda(backbone.device)

    def __call__(self, tensors: Sequence[torch.Tensor]) -> np.ndarray:
        parts: list[np.ndarray] = []
        start = 0
        while start < len(tensors):
            size = min(self.limit, len(tensors) - start)
            out_of_memory = False
            try:
                out = self.backbone.embed(self._stack(tensors[start : start + size]))
            except RuntimeError as exc:
                if not is_out_of_memory(exc):
                    raise
                out_of_memory = True  # handled below, once the exception (and its frames' tensors) is gone
            if out_of_memory:
                release_cached_memory(self.backbone.device)
                if size == 1:
                    raise AldeskError(
                        f"The {self.backbone.spec.name} backbone runs out of memory on {self.backbone.device} "
                        "even for one image; close other programs using the GPU, or embed on the CPU "
                        "with --device cpu (or ALDESK_DEVICE=cpu)."
                    )
                self.limit = max(1, size // 2)
                continue
            parts.append(out.numpy())
            start += size
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _stack(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        if not self.pinned:
            return torch.stack(list(tensors))
        # Page-locked host memory: the copy to the GPU runs by DMA without blocking this thread.
        out = torch.empty((len(tensors), *tensors[0].shape), dtype=tensors[0].dtype, pin_memory=True)
        return torch.stack(list(tensors), out=out)


def embed_sources(
    backbone: Backbone,
    sources: Sequence[ImageSource],
    *,
    batch_size: int | None = None,
    chunk_batches: int = 8,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    workers: int | None = None,
    overlap: bool | None = None,
) -> Iterator[EmbeddedChunk]:
    """Yield embeddings chunk by chunk (``chunk_batches`` batches each) in source order.

    ``overlap``: decode the next batch while the network runs (None: when the machine has
    cores the network's threads leave free). Without spare cores the decoding threads preempt
    one of the network's threads, and its parallel kernels then wait for the slowest: on 2 cores
    decoding a batch and then running it was measured faster (benchmarks/bench_embed.py)."""
    batch_size = batch_size or default_batch_size(backbone)
    run_batch = BatchRunner(backbone, batch_size)
    workers = workers or max(1, min(4, (os.cpu_count() or 2)))
    if overlap is None:
        overlap = is_cuda(backbone.device) or (os.cpu_count() or 1) > torch.get_num_threads()
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
        pending: deque[Future[tuple[int, torch.Tensor | None, str | None]]] = deque()
        next_position = 0
        lookahead = 2 * batch_size  # enough decoded ahead to keep the backbone busy
        positions: list[int] = []
        vectors: list[np.ndarray] = []
        failures: list[tuple[int, str]] = []
        batch: list[tuple[int, torch.Tensor]] = []
        while next_position < total or pending:
            # Without overlap a batch is submitted only once the previous one has run.
            target = lookahead + batch_size if overlap else (len(pending) or batch_size - len(batch))
            while next_position < total and len(pending) < target:
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
                    out = run_batch([t for _, t in batch])
                    positions.extend(p for p, _ in batch)
                    vectors.append(out)
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
