"""A loaded backbone: preprocessing plus a feature network in eval mode on its device.

On CUDA the forward pass runs under autocast float16 (tensor cores; half the activation memory)
and the features come back as float16, the precision the project stores anyway; on the CPU it is
float32 throughout, as before. A pretrained backbone's frozen forward runs on ONNX Runtime where
that works and agrees with torch (onnx_forward.py); the torch module stays for training, the
model bundle and as the fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import torch
from PIL import Image
from torch import nn

from aldesk.ml.encoders.spec import BackboneSpec

if TYPE_CHECKING:
    from aldesk.ml.encoders.onnx_forward import OnnxForward
    from aldesk.ml.encoders.embed import EmbeddedChunk

Transform = Callable[[Image.Image], torch.Tensor]


class Backbone:
    """Turns pictures into fixed-size feature vectors; see :func:`load_backbone`."""

    def __init__(
        self,
        spec: BackboneSpec,
        network: nn.Module,
        device: torch.device,
        identity: str,
        transform: Transform,
        load_side: int,
        mixed_precision: bool | None = None,
    ) -> None:
        self.spec = spec
        self.device = device
        self.identity = identity
        self.load_side = load_side
        self._transform = transform
        network.eval()
        for parameter in network.parameters():
            parameter.requires_grad_(False)
        # None: autocast float16 on CUDA only (CPU float16 kernels are slow, MPS's are untested here).
        self.mixed_precision = device.type == "cuda" if mixed_precision is None else mixed_precision
        self._bytes_per_image: int | None = None
        # On CPUs oneDNN runs convolutions about 25% faster on NHWC tensors (measured on Lite0);
        # cuDNN's float16 tensor-core kernels want NHWC too.
        self._channels_last = device.type in ("cpu", "cuda") and any(isinstance(m, nn.Conv2d) for m in network.modules())
        if self._channels_last:
            network = network.to(memory_format=torch.channels_last)
        self._network = network.to(device)
        self._onnx: OnnxForward | None = None
        self.runtime = "torch"  # which runtime computes the vectors, in words (``aldesk info``)

    def use_onnx_runtime(self, threads: int) -> None:
        """Compute the vectors on ONNX Runtime from now on, if it can be used and agrees with
        torch; otherwise keep torch and say why in :attr:`runtime`."""
        from aldesk.ml.encoders.onnx_forward import choose_runtime

        choice = choose_runtime(self._network, self.identity, self.spec.input_size, self.device, threads)
        self._onnx, self.runtime = choice.forward, choice.why

    def __repr__(self) -> str:
        return f"Backbone({self.spec.name!r}, identity={self.identity!r}, device={self.device})"

    @property
    def network(self) -> nn.Module:
        """The frozen feature network in eval mode (the model export packs it)."""
        return self._network

    @property
    def transform(self) -> Transform:
        """The picture -> tensor step :meth:`preprocess` applies (its recipe is documented in
        model exports)."""
        return self._transform

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """RGB picture of any size -> float32 [3, S, S] on the CPU; safe to call from threads."""
        return self._transform(image)

    def chunks(
        self,
        sources: Sequence[Callable[[], Image.Image]],
        *,
        batch_size: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Iterator[EmbeddedChunk]:
        """The sources' vectors (see aldesk/ml/encoders/encoder.py), decoded in threads while the network runs."""
        from aldesk.ml.encoders.embed import embed_sources  # it imports this module

        return embed_sources(self, sources, batch_size=batch_size, progress=progress, cancel=cancel)

    def bytes_per_image(self) -> int:
        """Estimated device memory per image in :meth:`embed` (measured once, on first call)."""
        if self._bytes_per_image is None:
            from aldesk.ml.encoders.memory import bytes_per_image

            element = 2 if self.mixed_precision else 4
            self._bytes_per_image = bytes_per_image(self._network, self.spec.input_size, self.device, element)
        return self._bytes_per_image

    def embed(self, batch: torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] float32 -> [B, dim] on the CPU: float32, or float16 under mixed precision.

        ``batch`` may be in pinned memory; then the copy to the GPU does not block the caller."""
        side = self.spec.input_size
        if batch.ndim != 4 or tuple(batch.shape[1:]) != (3, side, side):
            raise ValueError(f"{self.spec.name} expects a [B, 3, {side}, {side}] batch, got {list(batch.shape)}")
        if self._onnx is not None:
            return torch.from_numpy(self._onnx(batch.numpy()))
        features: torch.Tensor  # declared: the network's call is typed Any
        with torch.inference_mode():
            batch = batch.to(self.device, dtype=torch.float32, non_blocking=True)
            if self._channels_last:
                batch = batch.contiguous(memory_format=torch.channels_last)
            if self.mixed_precision:
                with torch.autocast(device_type=self.device.type, dtype=torch.float16):
                    features = self._network(batch)
                features = features.to(torch.float16)
            else:
                features = self._network(batch).float()
        # A copy made outside inference mode is an ordinary tensor, so callers may train on it
        # (inference tensors cannot be saved for backward); from a GPU the copy is the transfer.
        return features.clone() if features.device.type == "cpu" else features.cpu()
