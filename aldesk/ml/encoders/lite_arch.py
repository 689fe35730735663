"""The EfficientNet-Lite0 network (Tan & Le 2019, "lite" variant for mobile accelerators).

Lite differs from EfficientNet-B0 in three ways: no squeeze-and-excitation, ReLU6 instead of
swish, and a stem (32 channels) and head (1280) that are never scaled. The weights we load were
converted from Google's TensorFlow checkpoint, so two TensorFlow details matter: batch norm uses
epsilon 1e-3, and "SAME" padding puts the odd extra pixel of a strided convolution at the
bottom/right rather than splitting it evenly. Module names follow the converted file
(``_conv_stem``, ``_blocks.N._depthwise_conv``, ...) so it loads with ``strict=True``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


class Stage(NamedTuple):
    repeats: int
    kernel: int
    stride: int  # of the stage's first block; the rest use 1
    expand: int  # expansion ratio of the inverted bottleneck
    channels_in: int
    channels_out: int


# Width and depth multipliers are both 1.0 for Lite0, so these are the base B0 stages.
LITE0_STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)


class TfSameConv2d(nn.Conv2d):
    """A bias-free convolution padded like TensorFlow's ``padding="SAME"``.

    With stride 1 SAME padding is symmetric and nn.Conv2d does it; with stride 2 the total
    padding depends on the input size and any odd pixel goes after, so it is applied here.
    """

    def __init__(self, channels_in: int, channels_out: int, kernel: int, stride: int = 1, groups: int = 1):
        symmetric = stride == 1
        super().__init__(
            channels_in, channels_out, kernel, stride=stride, groups=groups, bias=False, padding=kernel // 2 if symmetric else 0
        )
        self._pad_here = not symmetric and kernel > 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._pad_here:
            x = F.pad(x, _same_padding(x.shape[-2:], self.kernel_size, self.stride))
        return super().forward(x)


def _same_padding(size: torch.Size, kernel: tuple[int, ...], stride: tuple[int, ...]) -> list[int]:
    pads: list[int] = []
    for length, k, s in zip(reversed(tuple(size)), reversed(kernel), reversed(stride)):  # W first, as F.pad wants
        total = max((math.ceil(length / s) - 1) * s + k - length, 0)
        pads += [total // 2, total - total // 2]
    return pads


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise k x k, 1x1 project (no SE in Lite)."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int, stride: int, expand: int):
        super().__init__()
        hidden = channels_in * expand
        self._has_expand = expand != 1
        if self._has_expand:
            self._expand_conv = TfSameConv2d(channels_in, hidden, 1)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = TfSameConv2d(hidden, hidden, kernel, stride=stride, groups=hidden)
        self._bn1 = _bn(hidden)
        self._project_conv = TfSameConv2d(hidden, channels_out, 1)
        self._bn2 = _bn(channels_out)
        self._residual = stride == 1 and channels_in == channels_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = x  # declared: the modules' calls below are typed Any
        if self._has_expand:
            out = F.relu6(self._bn0(self._expand_conv(out)))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))  # linear bottleneck: no activation
        return out + x if self._residual else out


class EfficientNetLite(nn.Module):
    """Feature extractor: [B, 3, H, W] -> [B, 1280] globally average-pooled head activations."""

    def __init__(self, stages: tuple[Stage, ...] = LITE0_STAGES):
        super().__init__()
        self._conv_stem = TfSameConv2d(3, STEM_CHANNELS, 3, stride=2)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks = []
        for stage in stages:
            for index in range(stage.repeats):
                first = index == 0
                blocks.append(
                    MBConv(
                        stage.channels_in if first else stage.channels_out,
                        stage.channels_out,
                        stage.kernel,
                        stage.stride if first else 1,
                        stage.expand,
                    )
                )
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = TfSameConv2d(stages[-1].channels_out, HEAD_CHANNELS, 1)
        self._bn1 = _bn(HEAD_CHANNELS)
        self.feature_dim = HEAD_CHANNELS

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Random initialisation as in EfficientNet training (He normal, fan-out); a baseline."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan_out = module.out_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
                with torch.no_grad():
                    module.weight.normal_(0.0, math.sqrt(2.0 / fan_out), generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()
