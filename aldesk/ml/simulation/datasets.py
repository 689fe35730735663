"""Labeled data sets for simulations, all available offline.

- ``fashion-mnist``: the IDX files of Debian's ``dataset-fashion-mnist`` package (MIT licence).
- ``digits``: scikit-learn's bundled 8x8 digits (BSD licence); needs scikit-learn.
- a folder: an ImageFolder tree, class = sub-folder name; of images, or of ``.txt`` files (texts).
- a table of texts: CSV/TSV with ``text`` and ``label`` columns, or JSON Lines with those keys.

Each gives a pool (train) split and a held-out test split that strategies never see: a stratified
split of the pool, or the data set given as ``test`` (a person's own held-out set).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aldesk.core.errors import AldeskError
from aldesk.core.imageio import is_image_name, load_image
from aldesk.core.kinds.base import Candidate, ImportOptions
from aldesk.core.kinds.text import TextKind
from aldesk.core.text_tables import is_table, read_table

FASHION_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
FASHION_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")


ImageLoader = Callable[[], Image.Image]  # returns an RGB PIL image
Loader = Callable[[], Any]  # one item as an encoder reads it: a picture or a text


@dataclass
class LabeledItems:
    """Items as zero-argument loaders (so big image sets are not all decoded at once)."""

    name: str
    class_names: list[str]
    train_images: list[Loader]
    train_labels: np.ndarray
    test_images: list[Loader]
    test_labels: np.ndarray
    kind: str = "image"  # aldesk/core/kinds: which encoders can embed these items


LabeledImages = LabeledItems  # the name from before texts


def dataset_kind(name: str) -> str:
    """The kind of items the data set ``name`` holds (cheap: by its name or its files)."""
    path = Path(name)
    if path.is_file() and is_table(path):
        return "text"
    if path.is_dir():
        images = texts = 0
        for item in path.rglob("*"):
            images += is_image_name(item)
            texts += TextKind().takes(item)
            if images + texts >= 50:
                break
        return "text" if texts > images else "image"
    return "image"


def load_dataset(
    name: str, *, pool_size: int | None = None, test_size: int | None = None, seed: int = 0, test: str | None = None
) -> LabeledItems:
    """The data set ``name``; ``test``: a held-out data set of the same kind instead of a split."""
    data = _load(name, seed)
    if test is not None:
        held_out = _load(test, seed)
        _take_test_split(data, held_out, test)
    return _subsample(data, pool_size, test_size, seed)


def _load(name: str, seed: int) -> LabeledItems:
    path = Path(name)
    if name == "fashion-mnist":
        return _fashion_mnist()
    if name == "digits":
        return _digits(seed)
    if path.is_dir():
        return _text_folder(path, seed) if dataset_kind(name) == "text" else _image_folder(path, seed)
    if path.is_file() and is_table(path):
        return _text_table(path, seed)
    raise AldeskError(
        f"Unknown dataset {name!r}: use fashion-mnist, digits, a folder with one sub-folder per class "
        "(of images or of .txt files), or a CSV/TSV/JSONL table with text and label columns."
    )


def _take_test_split(data: LabeledItems, held_out: LabeledItems, test: str) -> None:
    """Use all of the pool for training and ``held_out`` (every split of it) as the test set."""
    if held_out.kind != data.kind:
        raise AldeskError(f"The test set {test} holds {held_out.kind}s but the data set holds {data.kind}s.")
    unknown = sorted(set(held_out.class_names) - set(data.class_names))
    if unknown:
        raise AldeskError(f"The test set {test} has classes the data set lacks: {', '.join(unknown)}.")
    index = {name: i for i, name in enumerate(data.class_names)}
    remap = np.array([index[name] for name in held_out.class_names], dtype=np.int64)
    data.train_images = data.train_images + data.test_images
    data.train_labels = np.concatenate([data.train_labels, data.test_labels])
    data.test_images = held_out.train_images + held_out.test_images
    data.test_labels = remap[np.concatenate([held_out.train_labels, held_out.test_labels])]


def _subsample(data: LabeledItems, pool_size: int | None, test_size: int | None, seed: int) -> LabeledImages:
    rng = np.random.default_rng(seed)

    def pick(images: list[Loader], labels: np.ndarray, size: int | None) -> tuple[list[Loader], np.ndarray]:
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


def _text_folder(root: Path, seed: int) -> LabeledItems:
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    kind = TextKind()
    texts: list[str] = []
    labels: list[int] = []
    for index, name in enumerate(classes):
        for path in sorted((root / name).rglob("*")):
            if path.is_file() and kind.takes(path):
                try:
                    examined = kind.examine(Candidate(path))
                except AldeskError:
                    continue  # an empty or binary file is no example; the import would name it
                texts.append(examined.text or "")
                labels.append(index)
    return _split_texts(
        root.name, classes, texts, labels, seed, f"{root} needs at least two class sub-folders with .txt files in them."
    )


def _text_table(path: Path, seed: int) -> LabeledItems:
    rows = [row for row in read_table(path, ImportOptions()) if isinstance(row, Candidate) and row.label is not None]
    classes = sorted({row.label for row in rows if row.label is not None})
    index = {name: i for i, name in enumerate(classes)}
    texts = [row.text or "" for row in rows]
    labels = [index[row.label] for row in rows if row.label is not None]
    return _split_texts(path.stem, classes, texts, labels, seed, f"{path} needs texts of at least two labels (a label column).")


def _split_texts(name: str, classes: list[str], texts: list[str], labels: list[int], seed: int, problem: str) -> LabeledItems:
    if len(classes) < 2 or len(texts) < 10:
        raise AldeskError(problem)
    y = np.array(labels, dtype=np.int64)
    test = _stratified_test_mask(y, 0.2, seed)
    loaders = [_returning(text) for text in texts]
    return LabeledItems(
        name,
        classes,
        [loaders[i] for i in np.flatnonzero(~test)],
        y[~test],
        [loaders[i] for i in np.flatnonzero(test)],
        y[test],
        kind="text",
    )


def _returning(text: str) -> Loader:
    return lambda: text


def _stratified_test_mask(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        mask[members[: int(round(len(members) * fraction))]] = True
    return mask
