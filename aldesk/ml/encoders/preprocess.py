"""Turn an RGB picture of any size into the square, normalised tensor a backbone expects.

Geometry: the whole picture is resized to S x S when its aspect ratio is at most 4:3; a longer
picture first loses equal strips from both ends of its long side until it is 4:3. The usual
ImageNet evaluation recipe (shorter side to 256, centre crop 224) throws away 12.5% of every
border, and in a labeling task the thing that decides the label can sit near an edge: a
28 x 28 Fashion-MNIST item fills its frame, a specimen photo may be off-centre. Squashing is
safe up to 4:3 because ImageNet training crops were resized to a square from aspect ratios
between 3:4 and 4:3, so the networks have seen that much distortion. Tiny pictures (8 x 8
digits) follow the same rule and are enlarged with bicubic interpolation, which keeps their
strokes smooth instead of blocky.

Everything here is pure Pillow and numpy on the calling thread, so it is safe to run from a
thread pool while the backbone's forward pass uses torch's own threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

MAX_ASPECT = 4 / 3

# Normalisations, in 0..1 units: pixel' = (pixel / 255 - mean) / std.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# TensorFlow's EfficientNet-Lite was trained on (pixel - 127) / 128 ("inception style"
# values, chosen there because they quantise well), and the converted weights expect it.
LITE_MEAN = (127.0 / 255, 127.0 / 255, 127.0 / 255)
LITE_STD = (128.0 / 255, 128.0 / 255, 128.0 / 255)


def crop_box(width: int, height: int, max_aspect: float = MAX_ASPECT) -> tuple[float, float, float, float]:
    """The centred region (left, top, right, bottom) kept from a width x height picture."""
    if width > height * max_aspect:
        keep = height * max_aspect
        left = (width - keep) / 2
        return left, 0.0, left + keep, float(height)
    if height > width * max_aspect:
        keep = width * max_aspect
        top = (height - keep) / 2
        return 0.0, top, float(width), top + keep
    return 0.0, 0.0, float(width), float(height)


@dataclass(frozen=True)
class SquareTransform:
    """Crop to at most 4:3, resize to ``side`` x ``side``, normalise per channel."""

    side: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def recipe(self) -> str:
        """A text that changes whenever the output would; part of a backbone's identity."""
        return f"square-v1:side={self.side}:aspect<={MAX_ASPECT:.4f}:bicubic:mean={self.mean}:std={self.std}"

    def __call__(self, image: Image.Image) -> torch.Tensor:
        if image.mode != "RGB":
            image = image.convert("RGB")
        box = crop_box(*image.size)
        # resize() with a box crops and resamples in one pass and antialiases when shrinking;
        # reducing_gap lets a large picture first shrink by a cheap integer box filter.
        square = image.resize((self.side, self.side), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)
        pixels = np.asarray(square, dtype=np.float32)  # [S, S, 3], 0..255
        scale = np.array(self.std, dtype=np.float32) * 255
        offset = np.array(self.mean, dtype=np.float32) * 255
        normalised = (pixels - offset) / scale
        return torch.from_numpy(np.ascontiguousarray(normalised.transpose(2, 0, 1)))
