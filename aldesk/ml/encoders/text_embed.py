"""Computing text embeddings chunk by chunk, with progress and cancel points, as for images.

Reading a text is a lookup (the project holds them), so there is no decoding to overlap: the
encoder runs on one batch of texts after another. Batches are formed within a chunk after sorting
by length (the encoder pads to the longest text of a batch), so a chunk of mixed lengths costs
little more than one of short texts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import numpy as np

from aldesk.core.errors import ItemError
from aldesk.ml.encoders.embed import EmbeddedChunk

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]
CHUNK = 512  # texts per stored chunk: a few seconds of work on two cores
STEP = 128  # texts per progress report and cancel check


class EmbedsTexts(Protocol):
    def embed_texts(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray: ...


def embed_text_sources(
    encoder: EmbedsTexts,
    sources: Sequence[Callable[[], str]],
    dim: int,
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Iterator[EmbeddedChunk]:
    """The vectors of ``sources`` (each returns a text) in order, ``CHUNK`` texts a chunk."""
    total = len(sources)
    if progress:
        progress(0, total)
    for start in range(0, total, CHUNK):
        positions: list[int] = []
        texts: list[str] = []
        failures: list[tuple[int, str]] = []
        for position in range(start, min(total, start + CHUNK)):
            try:
                text = sources[position]()
            except ItemError as exc:
                failures.append((position, exc.reason))
                continue
            if not text.strip():
                failures.append((position, "no text"))
                continue
            positions.append(position)
            texts.append(text)
        parts: list[np.ndarray] = []
        for step in range(0, len(texts), STEP):
            if cancel and cancel():
                done = sum(len(p) for p in parts)
                if done or failures:  # keep what is already computed
                    yield _chunk(positions[:done], parts, failures, dim)
                return
            parts.append(encoder.embed_texts(texts[step : step + STEP], batch_size=batch_size))
            if progress:
                progress(min(total, start + step + STEP + len(failures)), total)
        if progress:
            progress(min(total, start + CHUNK), total)
        yield _chunk(positions, parts, failures, dim)


def _chunk(positions: list[int], parts: list[np.ndarray], failures: list[tuple[int, str]], dim: int) -> EmbeddedChunk:
    vectors = np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, dim), dtype=np.float32)
    return EmbeddedChunk(np.array(positions, dtype=np.int64), vectors, list(failures))
