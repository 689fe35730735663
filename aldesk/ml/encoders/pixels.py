"""The weight-free fallback: a 32 x 32 RGB thumbnail, flattened and centred.

Used when no pretrained weights exist at all. It is fixed and deterministic; on small, aligned
pictures (digits, Fashion-MNIST) raw pixels already separate many classes, on photos it is weak.
"""

from __future__ import annotations

import torch
from torch import nn

from aldesk.ml.encoders.preprocess import SquareTransform

NAME = "pixels"
SIDE = 32
# Pixels in 0..1 minus 0.5: centred around zero so linear heads and whitening behave, with no
# per-image statistics so that brightness stays part of the embedding.
TRANSFORM = SquareTransform(SIDE, (0.5, 0.5, 0.5), (1.0, 1.0, 1.0))


class Flatten(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def build() -> nn.Module:
    return Flatten()


def recipe() -> str:
    """What the embedding depends on; hashed into the backbone's identity."""
    return f"{NAME}:flatten:{TRANSFORM.recipe()}"
