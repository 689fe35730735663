"""Labeled data sets for simulations, all available offline.

- ``fashion-mnist``: the IDX files of Debian's ``dataset-fashion-mnist`` package (MIT licence).
- ``digits``: scikit-learn's bundled 8x8 digits (BSD licence); needs scikit-learn.
- a folder: an ImageFolder tree, class = sub-folder name.

Each gives a pool (train) split and a held-out test split that strategies never see.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from aldesk.core.errors import AldeskError
from aldesk.core.imageio import is_image_name, load_image

FASHION_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
FASHION_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")


ImageLoader = Callable[[], Image.Image]  # returns an RGB PIL image


@dataclass
class LabeledImages:
    """Images as a list of zero-argument loaders (so big sets are not all decoded at once)."""

    name: str
    class_names: list[str]
    train_images: list[ImageLoader]
    train_labels: np.ndarray
    test_images: list[ImageLoader]
    test_labels: np.ndarray


def load_dataset(name: str, *, pool_size: int | None = None, test_size: int | None = None, seed: int = 0) -> LabeledImages:
    if name == "fashion-mnist":
        data = _fashion_mnist()
    elif name == "digits":
        data = _digits(seed)
    elif Path(name).is_dir():
        data = _image_folder(Path(name), seed)
    else:
        raise AldeskError(f"Unknown dataset {name!r}: use fashion-mnist, digits, or a folder with one sub-folder per class.")
    return _subsample(data, pool_size, test_size, seed)


def _subsample(data: LabeledImages, pool_size: int | None, test_size: int | None, seed: int) -> LabeledImages:
    rng = np.random.default_rng(seed)

    def pick(images: list[ImageLoader], labels: np.ndarray, size: int | None) -> tuple[list[ImageLoader], np.ndarray]:
        if size is None or size >= len(labels):
            return images, labels
        chosen = np.sort(rng.choice(len(labels), size, replace=False))
        return [images[i] for i in chosen], labels[chosen]

    data.train_images, data.train_labels = pick(data.train_images, data.train_labels, pool_size)
    data.test_images, data.test_labels = pick(data.test_images, data.test_labels, test_size)
    return data


def _array_loader(array: np.ndarray) -> ImageLoader:
    return lambda: Image.fromarray(array).convert("RGB")


def _fashion_mnist() -> LabeledImages:
    folder = next((d for d in _fashion_dirs() if (d / "train-images-idx3-ubyte.gz").is_file()), None)
    if folder is None:
        raise AldeskError(
            "Fashion-MNIST is not installed. On Debian or Ubuntu: sudo apt-get install "
            "dataset-fashion-mnist (or set ALDESK_FASHION_MNIST to a folder with its IDX .gz files)."
        )
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
        splits[split] = ([_array_loader(img) for img in images], labels)
    return LabeledImages("fashion-mnist", list(FASHION_CLASSES), *splits["train"], *splits["test"])


def _fashion_dirs() -> list[Path]:
    override = os.environ.get("ALDESK_FASHION_MNIST")
    return [Path(override)] if override else list(FASHION_DIRS)


def read_idx(path: Path) -> np.ndarray:
    """Read a gzip'd IDX file (the MNIST format): a big-endian header then the raw array."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise AldeskError(f"{path} is not an unsigned-byte IDX file.")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def _digits(seed: int) -> LabeledImages:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise AldeskError("The digits data set comes with scikit-learn: pip install scikit-learn") from exc
    bunch = load_digits()
    images = (bunch.images * (255.0 / 16.0)).round().astype(np.uint8)
    labels = bunch.target.astype(np.int64)
    test = _stratified_test_mask(labels, 1 / 3, seed)
    return LabeledImages(
        "digits",
        [str(d) for d in range(10)],
        [_array_loader(img) for img in images[~test]],
        labels[~test],
        [_array_loader(img) for img in images[test]],
        labels[test],
    )


def _image_folder(root: Path, seed: int) -> LabeledImages:
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    paths, labels = [], []
    for index, name in enumerate(classes):
        for path in sorted((root / name).rglob("*")):
            if path.is_file() and is_image_name(path):
                paths.append(path)
                labels.append(index)
    if len(classes) < 2 or len(paths) < 10:
        raise AldeskError(f"{root} needs at least two class sub-folders with images in them.")
    y = np.array(labels, dtype=np.int64)
    test = _stratified_test_mask(y, 0.2, seed)
    loaders = [lambda p=p: load_image(p) for p in paths]
    return LabeledImages(
        root.name,
        classes,
        [loaders[i] for i in np.flatnonzero(~test)],
        y[~test],
        [loaders[i] for i in np.flatnonzero(test)],
        y[test],
    )


def _stratified_test_mask(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        mask[members[: int(round(len(members) * fraction))]] = True
    return mask
