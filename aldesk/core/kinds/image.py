"""Images: files Pillow opens (JPEG, PNG, TIFF, WebP, ...), checked at import by decoding their
header, loaded upright (EXIF orientation) and reduced to the size asked (aldesk/core/imageio.py)."""

from __future__ import annotations

import os

from PIL import Image

from aldesk.core import imageio
from aldesk.core.kinds.base import register


class ImageKind:
    name = "image"
    noun = "image"

    def takes(self, path: str | os.PathLike[str]) -> bool:
        return imageio.is_image_name(path)

    def examine(self, path: str | os.PathLike[str]) -> imageio.ImageInfo:
        return imageio.probe_image(path)

    def load(self, path: str | os.PathLike[str], max_side: int | None = None) -> Image.Image:
        return imageio.load_image(path, max_side=max_side)


register(ImageKind())
