"""Read image files safely: validate them for import, load them as RGB for display and models.

Pillow does the decoding. This module adds what an importer needs on top of it: every failure
becomes an :class:`ImageError` with a short reason, every pixel mode ends up as sensible 8-bit
RGB, and nothing here touches Pillow's global settings (other threads may be decoding too).
"""

from __future__ import annotations

import functools
import io
import math
import os
import re
import stat
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from aldesk.core.errors import ImageError

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif",
        ".png", ".bmp", ".dib", ".gif", ".tif", ".tiff", ".webp",
        ".ppm", ".pgm", ".pbm",
    }
)  # fmt: skip

# The only Pillow plugins Image.open may try. An allow-list, so a file with a misleading name
# never reaches a plugin we do not mean to support (EPS, for one, would run Ghostscript).
# MPO is how Pillow names many camera JPEGs that carry a second (preview or depth) picture;
# current Pillow opens those through the JPEG plugin, see _open_formats().
_OPEN_FORMATS = ("JPEG", "MPO", "PNG", "BMP", "DIB", "GIF", "TIFF", "WEBP", "PPM")
_DRAFT_FORMATS = frozenset({"JPEG", "MPO"})

# Sources Pillow opens as 32-bit mode "I" although their samples have at most 16 bits:
# PGM with maxval > 255 (Pillow rescales it to 0..65535), and 16-bit grey PNG before Pillow 10.3.
_I_MODE_16BIT_FORMATS = frozenset({"PNG", "PPM"})
_ALPHA_MODES = frozenset({"LA", "PA", "RGBA", "RGBa"})

_ORIENTATION_TAG = 0x0112
# EXIF orientation -> the transpose that makes the picture upright (the EXIF 2.3 table).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = frozenset({5, 6, 7, 8})

# Images over this many pixels are skipped on import, their size in the reason. Chosen just
# under Pillow's own hard limit (2 x 89.5 MP; its error reaches us with the same reason), so the
# 89-178 MP range Pillow only warns about stays usable: a JPEG is checked at 1/8 scale (a
# 150 MP JPEG peaks at ~45 MB), other formats need a full decode (~600 MB for 150 MP RGB)
# and take turns (_LARGE_DECODES). Stated in README's import section.
MAX_PIXELS = 178_000_000
# A decode of more pixels than this holds 100 MB or more: one at a time across threads, so an
# import's thread pool meeting a folder of scans does not hold several at once.
_LARGE_DECODE_PIXELS = 24_000_000
_LARGE_DECODES = threading.Lock()
# Reducing by whole factors before the RGB conversion is exact for these modes (Pillow
# premultiplies alpha); a palette or a transparent colour key must not be averaged.
_REDUCIBLE_MODES = frozenset({"L", "RGB", "RGBA", "LA"})
# Pillow's warning above 89 MP, as the filter entry warnings.filterwarnings makes for it.
_BOMB_WARNING_FILTER = ("ignore", None, Image.DecompressionBombWarning, None, 0)

# Pillow's DecompressionBombError carries the numbers only in its message.
_BOMB_NUMBERS = re.compile(r"\((\d+) pixels\) exceeds limit of (\d+) pixels")


def is_image_name(path: str | os.PathLike[str]) -> bool:
    """True if the file name has an image suffix (case-insensitive); the content is not read."""
    return os.path.splitext(os.fspath(path))[1].lower() in IMAGE_SUFFIXES


@dataclass(frozen=True)
class ImageInfo:
    """What the importer records about a valid image; sizes are as displayed (EXIF applied)."""

    width: int
    height: int
    format: str


def probe_image(path: str | os.PathLike[str]) -> ImageInfo:
    """Validate ``path`` completely (every byte of the first frame is decoded) and describe it.

    Raises ImageError with a short reason if the file cannot be used.
    """
    os.fspath(path)  # a wrong argument type is a bug in the caller, not a bad image
    with _guarded(path), _open_image(path) as im:
        width, height = im.size  # read before draft(), which shrinks im.size
        source_format = str(im.format)
        # For JPEG decode at 1/8 scale: much faster, and the decoder still walks the whole
        # entropy-coded stream, so truncation is still reported (see the tests).
        with _decoded(im, draft_size=(1, 1)):
            pass
        if _orientation(im) in _SWAPS_AXES:
            width, height = height, width
    return ImageInfo(width, height, source_format)


def load_image(path: str | os.PathLike[str], max_side: int | None = None, *, short_side: int | None = None) -> Image.Image:
    """Load the first frame of ``path`` as an upright RGB image.

    With ``max_side`` the result fits in max_side x max_side, keeping the aspect ratio. With
    ``short_side`` (for the encoders, whose input is cut from the picture's middle and resized
    again anyway) its shorter side is brought to between short_side and twice that: by JPEG
    draft decoding alone where that gets there, which skips the LANCZOS pass that took 60% of
    the decoding time of a 1024x768 photo. Never enlarged. Raises ImageError for the same files
    probe_image rejects.
    """
    os.fspath(path)
    for name, side in (("max_side", max_side), ("short_side", short_side)):
        if side is not None and side < 1:
            raise ValueError(f"{name} must be at least 1, not {side}")
    if max_side is not None and short_side is not None:
        raise ValueError("give max_side or short_side, not both")
    with _guarded(path), _open_image(path) as im:
        if short_side is None:
            return _load_open(im, max_side)
        return _load_open(im, _long_side_for(im.size, short_side), slack=2.0)


def _long_side_for(size: tuple[int, int], short_side: int) -> int:
    """The long side at which a picture of ``size`` has ``short_side`` as its shorter side."""
    width, height = size
    return max(short_side, math.ceil(short_side * max(width, height) / max(1, min(width, height))))


def _load_open(im: ImageFile.ImageFile, max_side: int | None, slack: float = 1.0) -> Image.Image:
    """``slack``: a result up to that many times ``max_side`` is kept as decoded."""
    with _decoded(im, _draft_size(im.size, max_side)):
        source_format = im.format
        orientation = _orientation(im)
        rgb = _to_rgb(_reduced(im, max_side), source_format)
        if max_side is not None and max(rgb.size) > slack * max_side:
            # thumbnail() first reduces by whole factors (cheap box filter), then uses LANCZOS.
            rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        # Transposing last works on the smaller image; the square box makes the order irrelevant.
        return _make_upright(rgb, orientation)


# --- opening and decoding -------------------------------------------------------------------


@contextmanager
def _guarded(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn any failure while reading ``path`` into an ImageError with a short reason.

    Deliberately broad: Pillow's plugins parse untrusted bytes and can raise almost anything
    (OSError, SyntaxError, ValueError, struct.error, EOFError, IndexError, MemoryError, ...).
    """
    try:
        yield
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError(path, _reason(exc)) from exc


@contextmanager
def _open_image(path: str | os.PathLike[str]) -> Iterator[ImageFile.ImageFile]:
    """Open ``path`` with Pillow (header only); the file stays open inside the block."""
    _quiet_bomb_warning()
    with open_regular(path) as fp:
        im = Image.open(fp, formats=_open_formats())
        pixels = im.width * im.height
        if pixels > MAX_PIXELS:
            raise ImageError(path, _over_limit(pixels, MAX_PIXELS))
        if im.format == "PNG":
            # load() ignores the chunk checksums and a missing end chunk; verify() checks both,
            # without inflating anything. It leaves the image unusable, so open it again.
            im.verify()
            fp.seek(0)
            im = Image.open(fp, formats=("PNG",))
        yield im


@functools.cache
def _open_formats() -> tuple[str, ...]:
    # Image.open raises KeyError for a name without an opener of its own (MPO in current
    # Pillow, or a plugin left out of a build), so pass only the ones that have one.
    Image.init()  # Pillow's own lazy plugin registration, as Image.open would do
    return tuple(name for name in _OPEN_FORMATS if name in Image.OPEN)


def open_regular(path: str | os.PathLike[str]) -> io.BufferedReader:
    """Open ``path`` for reading if it is a non-empty regular file (symlinks followed).

    Anything else (a FIFO, socket, device or folder) is refused with an ImageError naming its
    kind, without being opened: reading a FIFO or /dev/zero would never end.
    """
    with _guarded(path):
        _check_regular(path, os.stat(path).st_mode)
        # O_NONBLOCK: should the path become a FIFO after the stat, this open still returns.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        try:
            info = os.fstat(fd)
            _check_regular(path, info.st_mode)
            if info.st_size == 0:
                raise ImageError(path, "empty file")
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise


_NOT_REGULAR = (
    (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
)  # fmt: skip


def _check_regular(path: str | os.PathLike[str], mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise ImageError(path, "is a folder, not a file")
    kind = next((name for test, name in _NOT_REGULAR if test(mode)), "not a file or folder")
    raise ImageError(path, f"not a regular file ({kind})")


def _quiet_bomb_warning() -> None:
    # Pillow prints a DecompressionBombWarning above 89 MP; aldesk checks sizes itself
    # (MAX_PIXELS) and reports them, so the raw warning must never reach a person.
    # warnings.catch_warnings is not thread-safe (decodes run in threads), so one ignore
    # filter for that category is kept instead, put back if something (a test runner, another
    # catch_warnings) dropped it.
    if _BOMB_WARNING_FILTER not in warnings.filters:
        warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


_DECODE_BLOCK = 16 * 1024 * 1024


@contextmanager
def _decoded(im: ImageFile.ImageFile, draft_size: tuple[int, int] | None) -> Iterator[None]:
    """Decode the current (first) frame; for JPEG at a reduced DCT scale if ``draft_size``.

    A large decode holds _LARGE_DECODES until the block ends, so what the caller makes of the
    pixels (a reduced RGB copy) is made before another large decode starts.
    """
    if draft_size is not None and im.format in _DRAFT_FORMATS:
        im.draft(None, draft_size)  # picks the largest 1/2, 1/4, 1/8 scale still >= draft_size
    # Few large reads: the decoder releases the GIL while it works, but each of Pillow's default
    # 64 KiB blocks must win the GIL back, which next to a busy Python thread (the learning
    # worker) made a 12 MP JPEG decode 2-3x slower (benchmarks/bench_keypress.py).
    im.decodermaxblock = max(im.decodermaxblock, _DECODE_BLOCK)
    large = im.width * im.height > _LARGE_DECODE_PIXELS
    with _LARGE_DECODES if large else nullcontext():
        im.load()
        yield


def _reduced(im: Image.Image, max_side: int | None) -> Image.Image:
    """``im`` shrunk by a whole factor while still at least twice ``max_side`` (LANCZOS does
    the rest), before the RGB conversion copies it: a 150 MP PNG no longer needs a second
    full-size image."""
    if max_side is None or im.mode not in _REDUCIBLE_MODES or "transparency" in im.info:
        return im
    factor = max(im.size) // (2 * max_side)
    return im.reduce(factor) if factor > 1 else im


def _draft_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int] | None:
    # Ask the JPEG decoder for the final size: draft() picks the smallest DCT scale (1/2, 1/4,
    # 1/8) that still gives at least this, and thumbnail()'s LANCZOS makes the last step. A
    # margin of 2x cost a full-size decode on 1600-px photos for no visible gain (measured by
    # benchmarks/bench_embed.py).
    if max_side is None:
        return None
    width, height = size
    scale = min(1.0, max_side / max(width, height, 1))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _orientation(im: Image.Image) -> int:
    """EXIF orientation 1..8 (also read from XMP by Pillow); 1 when absent or unreadable."""
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:
        # A damaged EXIF block must not reject a picture whose pixels decode fine.
        return 1
    return value if isinstance(value, int) and value in _UPRIGHT else 1


def _make_upright(im: Image.Image, orientation: int) -> Image.Image:
    method = _UPRIGHT.get(orientation)
    return im if method is None else im.transpose(method)


# --- error reasons --------------------------------------------------------------------------


def _reason(exc: Exception) -> str:
    """A short phrase for the import report."""
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return _bomb_reason(exc)
    if isinstance(exc, UnidentifiedImageError):
        return "not an image (unrecognised format)"
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, MemoryError):
        return "not enough memory to decode the image"
    message = str(exc) or type(exc).__name__
    if "truncated" in message.lower():
        return "truncated file"
    if isinstance(exc, OSError) and exc.errno is not None:
        # A real read failure from the operating system (Pillow's own OSErrors have no errno).
        return f"cannot read file ({exc.strerror or message})"
    return f"corrupt or unsupported image data ({message})"


def _bomb_reason(exc: Exception) -> str:
    found = _BOMB_NUMBERS.search(str(exc))
    if found is None:
        return f"decompression bomb ({exc})"
    pixels, limit = (int(group) for group in found.groups())
    # Pillow's hard limit is just above MAX_PIXELS unless someone lowered it: state ours.
    return _over_limit(pixels, min(limit, MAX_PIXELS))


def _over_limit(pixels: int, limit: int) -> str:
    return f"{_megapixels(pixels)} MP is over the {_megapixels(limit)} MP limit"


def _megapixels(pixels: int) -> str:
    value = pixels / 1e6
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


# --- pixel modes -> RGB ---------------------------------------------------------------------


def _to_rgb(im: Image.Image, source_format: str | None) -> Image.Image:
    """A new 8-bit RGB image from any mode Pillow opens; ``source_format`` is im.format."""
    mode = im.mode
    if mode.startswith("I;16") or (mode == "I" and source_format in _I_MODE_16BIT_FORMATS):
        return _sixteen_bit_to_rgb(np.asarray(im))
    if mode in ("I", "F"):
        return _stretch_to_rgb(np.asarray(im))
    if mode in _ALPHA_MODES or "transparency" in im.info:
        return _flatten_on_white(im)
    # 1, L, P, RGB (a copy), RGBX, CMYK, YCbCr, HSV, and LAB (Pillow >= 9.3 uses LittleCMS).
    return im.convert("RGB")


def _sixteen_bit_to_rgb(samples: np.ndarray) -> Image.Image:
    # Map the full 16-bit range onto 8 bits with rounding (65535 -> 255, 32768 -> 128).
    # Pillow's own convert("L") clips at 255 instead, turning nearly everything white.
    wide = np.clip(samples.astype(np.int64), 0, 65535)
    return _grey_to_rgb(((wide + 128) // 257).astype(np.uint8))


def _stretch_to_rgb(samples: np.ndarray) -> Image.Image:
    # 32-bit data has no fixed white point, so spread the image's own finite range over 0..255.
    values = samples.astype(np.float64)
    finite = np.isfinite(values)
    out = np.zeros(values.shape)
    if finite.any():
        low, high = values[finite].min(), values[finite].max()
        if high > low:
            out[finite] = (values[finite] - low) * (255.0 / (high - low))
        else:
            out[finite] = min(max(low, 0.0), 255.0)  # flat: nothing to stretch, keep the value
    return _grey_to_rgb(np.rint(out).astype(np.uint8))


def _grey_to_rgb(grey: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(grey)).convert("RGB")


def _flatten_on_white(im: Image.Image) -> Image.Image:
    # Viewers and models need opaque pixels. Dropping alpha would expose whatever colour hides
    # under transparent pixels (often black), so composite onto white as a viewer would.
    rgba = im.convert("RGBA")  # also turns a "transparency" entry (P, L, RGB) into alpha
    canvas = Image.new("RGB", rgba.size, (255, 255, 255))
    canvas.paste(rgba, mask=rgba.getchannel("A"))
    return canvas
