"""torchvision's ImageNet classifiers as feature extractors.

The architecture comes from torchvision (built with ``weights=None``: nothing is downloaded);
the weights file is the one torchvision itself would download, looked up in torch's hub cache
(``torch.hub.get_dir()/checkpoints``), or any file given with ``--weights``. Only
``aldesk weights fetch`` ever downloads. torchvision is imported lazily: it takes seconds, and
listing backbones must stay cheap.
"""

from __future__ import annotations

import re
import socket
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch
from torch import nn

from aldesk.core.errors import AldeskError
from aldesk.ml.encoders.preprocess import IMAGENET_MEAN, IMAGENET_STD, SquareTransform
from aldesk.ml.encoders.spec import BackboneSpec, WeightsStatus
from aldesk.ml.encoders.weights_file import StateDict, drop_keys, load_strict, strip_prefix

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

INPUT_SIZE = 224
TRANSFORM = SquareTransform(INPUT_SIZE, IMAGENET_MEAN, IMAGENET_STD)
# Prefixes wrapped around torchvision's names by other tools: imgsim's ResNet-50 file
# ("module.pre." + torchvision key, with a 768-d projection as fc) and DataParallel ("module.").
_FOREIGN_PREFIXES = ("module.pre.", "module.")
_DOWNLOAD_TIMEOUT_S = 60
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{6,})\.")


def _drop_attribute(name: str) -> Callable[[nn.Module], None]:
    def strip(model: nn.Module) -> None:
        setattr(model, name, nn.Identity())

    return strip


def _drop_convnext_linear(model: nn.Module) -> None:
    # ConvNeXt's classifier is LayerNorm2d, Flatten, Linear: keep the norm, it belongs to the features.
    cast(nn.Sequential, model.classifier)[2] = nn.Identity()  # a submodule's type is not known statically


@dataclass(frozen=True)
class _Entry:
    name: str
    dim: int
    description: str
    strip_head: Callable[[nn.Module], None]
    head_prefixes: tuple[str, ...]  # parameters of the removed classifier, ignored in files


_ENTRIES = (
    _Entry("resnet18", 512, "ResNet-18, ImageNet (torchvision)", _drop_attribute("fc"), ("fc.",)),
    _Entry("resnet50", 2048, "ResNet-50, ImageNet (torchvision; also takes imgsim's model.pth)", _drop_attribute("fc"), ("fc.",)),
    _Entry(
        "mobilenet_v3_small", 576, "MobileNetV3-Small, ImageNet (torchvision)", _drop_attribute("classifier"), ("classifier.",)
    ),
    _Entry(
        "mobilenet_v3_large", 960, "MobileNetV3-Large, ImageNet (torchvision)", _drop_attribute("classifier"), ("classifier.",)
    ),
    _Entry("efficientnet_b0", 1280, "EfficientNet-B0, ImageNet (torchvision)", _drop_attribute("classifier"), ("classifier.",)),
    _Entry("convnext_tiny", 768, "ConvNeXt-Tiny, ImageNet (torchvision)", _drop_convnext_linear, ("classifier.2.",)),
    _Entry("vit_b_16", 768, "ViT-B/16, ImageNet (torchvision); slow on a CPU", _drop_attribute("heads"), ("heads.",)),
)
_BY_NAME = {entry.name: entry for entry in _ENTRIES}


def checkpoints_dir() -> Path:
    """Where torchvision keeps downloaded weights (follows TORCH_HOME and torch.hub.set_dir)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def _weights_enum(name: str) -> type[WeightsEnum]:
    import torchvision.models

    weights: type[WeightsEnum] = torchvision.models.get_model_weights(name)  # torchvision is untyped
    return weights


def _file_name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def default_file_name(name: str) -> str:
    """The file torchvision downloads for ``name`` by default, e.g. ``resnet18-f37072fd.pth``."""
    return _file_name(_weights_enum(name).DEFAULT.url)


def _candidates(name: str) -> list[WeightsEnum]:
    """ImageNet weight sets for this architecture at 224 px, torchvision's default first."""
    enum = _weights_enum(name)
    members = [enum.DEFAULT] + [member for member in enum if member is not enum.DEFAULT]
    # Weights made for larger inputs (ViT's 384 px SWAG) have position embeddings of another shape.
    return [member for member in members if _crop_size(member) in (None, INPUT_SIZE)]


def _crop_size(weights: WeightsEnum) -> int | None:
    keywords = getattr(weights.transforms, "keywords", {}) or {}
    size = keywords.get("crop_size")
    return size if isinstance(size, int) else None


def cached_weights(name: str) -> Path | None:
    """The first of this model's torchvision weights files present in torch's cache."""
    folder = checkpoints_dir()
    for weights in _candidates(name):
        path = folder / _file_name(weights.url)
        if path.is_file():
            return path
    return None


def _locator(name: str) -> Callable[[], WeightsStatus]:
    def locate() -> WeightsStatus:
        path = cached_weights(name)
        if path is not None:
            return WeightsStatus(True, str(path), "")
        default = _weights_enum(name).DEFAULT
        file_name = _file_name(default.url)
        return WeightsStatus(
            False,
            None,
            f"{name} needs its ImageNet weights file {file_name} in {checkpoints_dir()}. Run "
            f"`aldesk weights fetch {name}` where a network is available (it downloads "
            f"{default.url}), or copy that file there by hand, or pass a weights file with --weights FILE.",
        )

    return locate


SPECS = tuple(
    BackboneSpec(
        name=entry.name,
        dim=entry.dim,
        input_size=INPUT_SIZE,
        description=entry.description,
        pretrained=True,
        _locate=_locator(entry.name),
    )
    for entry in _ENTRIES
)


def build(name: str, state: StateDict, path: Path) -> nn.Module:
    """torchvision's ``name`` without its classifier, with ``state`` loaded strictly."""
    import torchvision.models

    entry = _BY_NAME[name]
    model: nn.Module = torchvision.models.get_model(name, weights=None)  # torchvision is untyped
    entry.strip_head(model)
    state = drop_keys(strip_prefix(state, _FOREIGN_PREFIXES), entry.head_prefixes)
    load_strict(model, state, path, name)
    return model


def fetch(name: str) -> Path:
    """Download torchvision's default weights for ``name`` into torch's cache (unless there)."""
    present = cached_weights(name)
    if present is not None:
        return present
    default = _weights_enum(name).DEFAULT
    target = checkpoints_dir() / _file_name(default.url)
    target.parent.mkdir(parents=True, exist_ok=True)
    # torchvision names files NAME-<first hex digits of their SHA-256>.pth; check them.
    found = _HASH_IN_NAME.search(target.name)
    hash_prefix = found.group(1) if found else None
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)  # urlopen inside torch.hub waits forever otherwise
    try:
        torch.hub.download_url_to_file(default.url, str(target), hash_prefix=hash_prefix, progress=True)
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise AldeskError(
            f"Could not download {default.url} ({reason}): there seems to be no network here. "
            f"On a machine with a network, download that file and copy it to {target}, "
            "or pass any copy of it with --weights FILE."
        ) from None
    except (OSError, RuntimeError, ValueError) as exc:  # a full disk, a hash mismatch, ...
        raise AldeskError(
            f"Downloading {default.url} to {target} failed ({exc}). Try again, or download the "
            "file elsewhere and copy it there by hand, or pass it with --weights FILE."
        ) from None
    finally:
        socket.setdefaulttimeout(previous)
    return target
