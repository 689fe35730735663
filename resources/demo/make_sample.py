"""Build the labeled demo sample that ``aldesk demo`` ships, from Fashion-MNIST.

Usage::

    python resources/demo/make_sample.py [--source DIR] [--count 3000]

Options:

``--source DIR``
    Folder holding the Fashion-MNIST IDX files ``t10k-images-idx3-ubyte.gz`` and
    ``t10k-labels-idx1-ubyte.gz`` (uncompressed copies without ``.gz`` work too).
    Default: ``/usr/share/datasets/fashion-mnist``, where the Debian package
    ``dataset-fashion-mnist`` installs them (``apt-get install -y dataset-fashion-mnist``).
``--count N``
    Number of images, a multiple of 10 (N/10 per class). Default: 3000.
``--seed S``
    Seed of the selection and of the order. Default: 0.
``--output PATH``
    Zip to write. Default: ``fashion-mnist-sample.zip`` beside this script.

What it does: reads the TEST split (10,000 images, 1,000 per class), takes a
class-balanced seeded random sample, and writes a zip holding

* ``images/00000.png`` ... : 8-bit grayscale (mode ``L``) 28x28 PNGs, in shuffled
  order, so a file's name says nothing about its label;
* ``labels.csv``: header ``file,label``, one row per image, e.g.
  ``images/00000.png,sneaker``; labels are the class names in ``CLASS_NAMES``;
* ``LICENSE-fashion-mnist.txt``: Fashion-MNIST's MIT licence (copied from beside
  this script).

The output is deterministic: the sample and its order come from SHA-256 hashes of
(seed, image index), which do not depend on the numpy or Python version; the zip
entries are sorted, carry a fixed timestamp and fixed attributes. Rerunning with
the same source and options gives the same zip bytes (PNG bytes depend on the zlib
that Pillow uses, which is stable in practice).

Needs only the standard library, numpy and Pillow.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_OUTPUT = HERE / "fashion-mnist-sample.zip"
LICENSE_NAME = "LICENSE-fashion-mnist.txt"

#: Class names by original Fashion-MNIST label index 0-9 (file-system friendly
#: forms of T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker,
#: Bag, Ankle boot).
CLASS_NAMES: tuple[str, ...] = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle-boot",
)

#: Fixed timestamp of every zip entry (the earliest a zip can hold).
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)

#: IDX element type codes (third byte of the magic number) -> numpy big-endian dtype.
IDX_DTYPES: dict[int, str] = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a numpy array.

    IDX layout: two zero bytes, one byte giving the element type, one byte giving
    the number of dimensions ``n``, then ``n`` big-endian uint32 sizes, then the
    data in row-major order, big-endian.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    type_code, ndim = data[2], data[3]
    if type_code not in IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX element type 0x{type_code:02x}")
    header_end = 4 + 4 * ndim
    if len(data) < header_end:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_DTYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header_end != expected:
        raise ValueError(f"{path}: header says {shape} ({expected} bytes of data), file has {len(data) - header_end}")
    array = np.frombuffer(data, dtype=dtype, offset=header_end).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def find_idx(source: Path, stem: str) -> Path:
    """Return ``source/stem.gz`` or ``source/stem``, whichever exists."""
    for candidate in (source / f"{stem}.gz", source / stem):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{stem}(.gz) not found in {source}; install the Debian package dataset-fashion-mnist or pass --source DIR"
    )


def load_test_split(source: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load the Fashion-MNIST test images (N, 28, 28) uint8 and labels (N,) uint8."""
    images = read_idx(find_idx(source, "t10k-images-idx3-ubyte"))
    labels = read_idx(find_idx(source, "t10k-labels-idx1-ubyte"))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(f"unexpected images array {images.shape} {images.dtype}")
    if labels.shape != (images.shape[0],) or labels.dtype != np.uint8:
        raise ValueError(f"unexpected labels array {labels.shape} {labels.dtype}")
    if labels.max() >= len(CLASS_NAMES):
        raise ValueError(f"label {labels.max()} out of range 0-{len(CLASS_NAMES) - 1}")
    return images, labels


def rank_key(seed: int, purpose: str, index: int) -> bytes:
    """A reproducible pseudo-random sort key for one image index."""
    return hashlib.sha256(f"{seed}:{purpose}:{index}".encode("ascii")).digest()


def choose_sample(labels: np.ndarray, count: int, seed: int) -> list[int]:
    """Pick ``count // 10`` indices per class at random; return them shuffled."""
    n_classes = len(CLASS_NAMES)
    if count <= 0 or count % n_classes:
        raise ValueError(f"--count must be a positive multiple of {n_classes}")
    per_class = count // n_classes
    chosen: list[int] = []
    for label in range(n_classes):
        members = [int(i) for i in np.flatnonzero(labels == label)]
        if len(members) < per_class:
            raise ValueError(f"class {CLASS_NAMES[label]} has {len(members)} images, fewer than {per_class}")
        members.sort(key=lambda i: rank_key(seed, "select", i))
        chosen.extend(members[:per_class])
    chosen.sort(key=lambda i: rank_key(seed, "order", i))
    return chosen


def encode_png(image: np.ndarray) -> bytes:
    """Encode a 2-D uint8 array as an optimised 8-bit grayscale PNG."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def zip_entry(name: str, compress: bool) -> zipfile.ZipInfo:
    """A zip entry header with fixed timestamp and attributes."""
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.create_system = 3  # Unix, whatever system builds the zip
    info.external_attr = 0o100644 << 16  # regular file, rw-r--r--
    return info


def build_entries(images: np.ndarray, labels: np.ndarray, indices: list[int], license_text: bytes) -> dict[str, bytes]:
    """All zip members, by name."""
    entries: dict[str, bytes] = {LICENSE_NAME: license_text}
    rows = ["file,label"]
    for position, index in enumerate(indices):
        name = f"images/{position:05d}.png"
        entries[name] = encode_png(images[index])
        rows.append(f"{name},{CLASS_NAMES[int(labels[index])]}")
    entries["labels.csv"] = ("\n".join(rows) + "\n").encode("ascii")
    return entries


def write_zip(path: Path, entries: dict[str, bytes]) -> None:
    """Write ``entries`` to ``path`` in sorted order, atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name in sorted(entries):
            # PNGs are already deflated; storing them keeps the zip simple and fast.
            compress = not name.endswith(".png")
            archive.writestr(zip_entry(name, compress), entries[name], compresslevel=9)
    os.replace(tmp, path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, metavar="DIR", help=f"folder of the IDX files (default: {DEFAULT_SOURCE})"
    )
    parser.add_argument("--count", type=int, default=3000, metavar="N", help="images, a multiple of 10")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="selection and order seed")
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, metavar="PATH", help="zip to write (default: beside this script)"
    )
    args = parser.parse_args(argv)
    if args.count <= 0 or args.count % len(CLASS_NAMES):
        parser.error(f"--count must be a positive multiple of {len(CLASS_NAMES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        images, labels = load_test_split(args.source)
        indices = choose_sample(labels, args.count, args.seed)
        license_text = (HERE / LICENSE_NAME).read_bytes()
    except (OSError, ValueError) as error:
        print(f"make_sample.py: error: {error}", file=sys.stderr)
        return 1
    entries = build_entries(images, labels, indices, license_text)
    write_zip(args.output, entries)
    size = args.output.stat().st_size
    print(f"wrote {args.output} ({len(indices)} images, {size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
