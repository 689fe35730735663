"""What the embedding of a project asks of an encoder, whatever kind of item it reads.

An image backbone (backbone.py) and the text encoder (minilm.py) both turn the items' sources
(aldesk/core/kinds: a callable per item giving a picture or a text) into vectors, chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import torch

from aldesk.ml.encoders.spec import BackboneSpec

if TYPE_CHECKING:
    from aldesk.ml.encoders.embed import EmbeddedChunk

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


class Encoder(Protocol):
    @property
    def spec(self) -> BackboneSpec: ...

    @property
    def identity(self) -> str:
        """What the vectors depend on (weights, preprocessing): embeddings are stored under it."""
        ...

    @property
    def device(self) -> torch.device: ...

    @property
    def runtime(self) -> str:
        """Which runtime computes the vectors, in words ("ONNX Runtime CPU", "torch (why)")."""
        ...

    @property
    def load_side(self) -> int | None:
        """Images: the shorter side pictures are decoded down to; None for kinds without one."""
        ...

    def chunks(
        self,
        sources: Sequence[Callable[[], Any]],
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
        cancel: Cancel | None = None,
    ) -> Iterator[EmbeddedChunk]:
        """The sources' vectors in order, a chunk at a time; an unusable item is a failure of its
        chunk, never the end of the run. A cancel ends it after the chunk being computed."""
        ...
