"""How much device memory one image takes in a backbone's forward pass (for GPU batch sizes).

Measured rather than tabulated: a one-image forward pass with hooks on every leaf module records
the largest activation. During inference each layer's output is freed once the next layer has
read it, so the peak holds only a few activations at a time: a residual block's input while its
branch runs, the branch's input and output, and the allocator's rounding. ``LIVE_ACTIVATIONS``
of the largest one, plus the input batch itself, is the estimate; an out-of-memory error still
halves the batch (aldesk/ml/encoders/embed.py), so the estimate needs to be safe, not tight.
"""

from __future__ import annotations

import torch
from torch import nn

LIVE_ACTIVATIONS = 4


def largest_activation(network: nn.Module, side: int, device: torch.device) -> int:
    """Elements in the largest output of any leaf module for one [1, 3, side, side] image."""
    largest = 3 * side * side

    def record(_module: nn.Module, _inputs: object, output: object) -> None:
        nonlocal largest
        if isinstance(output, torch.Tensor):
            largest = max(largest, output.numel())

    leaves = [m for m in network.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(record) for m in leaves]
    try:
        with torch.inference_mode():
            network(torch.zeros(1, 3, side, side, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return largest


def bytes_per_image(network: nn.Module, side: int, device: torch.device, element_size: int) -> int:
    """Estimated device bytes per image: the float32 input (and its cast) plus the live activations."""
    activations = LIVE_ACTIVATIONS * largest_activation(network, side, device) * element_size
    inputs = 3 * side * side * (4 + element_size)
    return int(activations + inputs)
