"""aldesk.core.imageio: validation for import and RGB loading. Every file is made in tmp_path."""

from __future__ import annotations

import io
import os
import struct
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, features

from aldesk.core import imageio
from aldesk.core.errors import ImageError
from aldesk.core.imageio import IMAGE_SUFFIXES, ImageInfo, is_image_name, load_image, probe_image

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


# --- helpers ---------------------------------------------------------------------------------


def save(im: Image.Image, path: Path, **params: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, **params)
    return path


def gradient(width: int, height: int) -> Image.Image:
    """A smooth RGB picture: compresses well and survives JPEG."""
    y, x = np.mgrid[0:height, 0:width]
    red, green = x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1)
    return Image.fromarray(np.stack([red, green, (x + y) % 256], -1).astype(np.uint8))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def raw_png(width: int, height: int, bit_depth: int, colour: int, samples: np.ndarray) -> bytes:
    """A PNG written by hand, so 16-bit files do not depend on what Pillow can save."""
    rows = samples.astype(">u2" if bit_depth == 16 else np.uint8).reshape(height, -1)
    scanlines = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 per row
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(scanlines)) + png_chunk(b"IEND", b"")
    )


def row_pixels(im: Image.Image) -> list[tuple[int, int, int]]:
    assert im.mode == "RGB"
    return [im.getpixel((x, 0)) for x in range(im.width)]


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def reason_for(path: Path | str, loader=probe_image) -> str:
    with pytest.raises(ImageError) as caught:
        loader(path)
    assert caught.value.path == path
    return caught.value.reason


# --- names -----------------------------------------------------------------------------------


def test_suffixes_are_lower_case_with_dot() -> None:
    expected = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".dib", ".gif", ".tif",
                ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}  # fmt: skip
    assert IMAGE_SUFFIXES == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jpg", True),
        ("A.JPG", True),
        ("dir.d/photo.TiFf", True),
        (Path("x/y.webp"), True),
        ("scan.pgm", True),
        ("notes.txt", False),
        ("jpg", False),
        ("archive.png.zip", False),
        ("folder.png/readme", False),
    ],
)
def test_is_image_name(name: str | Path, expected: bool) -> None:
    assert is_image_name(name) is expected


# --- every format probes and loads ------------------------------------------------------------


FORMATS = [
    ("x.jpg", "JPEG", {"quality": 95}),
    ("x.png", "PNG", {}),
    ("x.bmp", "BMP", {}),
    ("x.gif", "GIF", {}),
    ("x.tif", "TIFF", {}),
    ("x.webp", "WEBP", {"lossless": True}),
    ("x.ppm", "PPM", {}),
]


@pytest.mark.parametrize(("name", "pillow_format", "params"), FORMATS)
def test_each_format_probes_and_loads(tmp_path: Path, name: str, pillow_format: str, params: dict) -> None:
    if pillow_format == "WEBP" and not features.check("webp"):
        pytest.skip("Pillow built without WebP")
    picture = Image.new("RGB", (30, 20), (200, 40, 60))
    path = save(picture, tmp_path / name, **params)

    assert probe_image(path) == ImageInfo(30, 20, pillow_format)
    loaded = load_image(str(path))
    assert loaded.mode == "RGB" and loaded.size == (30, 20)
    assert close_to(loaded.getpixel((15, 10)), (200, 40, 60), tolerance=6)  # GIF palette, JPEG


def test_content_decides_not_the_name(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (8, 6), RED), tmp_path / "really-a-png.jpg", format="PNG")
    assert probe_image(path).format == "PNG"


def test_camera_mpo_opens_as_its_first_picture(tmp_path: Path) -> None:
    first, second = Image.new("RGB", (32, 16), RED), Image.new("RGB", (32, 16), BLUE)
    path = tmp_path / "camera.jpg"
    save(first, path, format="MPO", save_all=True, append_images=[second])
    assert probe_image(path) == ImageInfo(32, 16, "MPO")
    assert close_to(load_image(path).getpixel((16, 8)), RED, tolerance=8)


def test_formats_outside_the_allow_list_are_not_images(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (16, 16), RED), tmp_path / "icon.png", format="ICO")
    assert Image.open(path).format == "ICO"  # Pillow itself would open it
    assert reason_for(path) == "not an image (unrecognised format)"


# --- modes ------------------------------------------------------------------------------------


def test_mode_1(tmp_path: Path) -> None:
    im = Image.new("1", (2, 1), 0)
    im.putpixel((1, 0), 1)
    assert row_pixels(load_image(save(im, tmp_path / "bw.png"))) == [BLACK, WHITE]


def test_mode_l(tmp_path: Path) -> None:
    im = Image.fromarray(np.array([[0, 77, 255]], dtype=np.uint8))
    path = save(im, tmp_path / "grey.png")
    assert row_pixels(load_image(path)) == [(0, 0, 0), (77, 77, 77), WHITE]


def test_mode_la_is_composited_on_white(tmp_path: Path) -> None:
    im = Image.new("LA", (3, 1))
    for x, value in enumerate([(100, 0), (100, 255), (100, 128)]):
        im.putpixel((x, 0), value)
    path = save(im, tmp_path / "grey-alpha.png")
    assert Image.open(path).mode == "LA"
    transparent, opaque, half = row_pixels(load_image(path))
    assert transparent == WHITE
    assert opaque == (100, 100, 100)
    assert close_to(half, (177, 177, 177), tolerance=1)  # 100*128/255 + 255*127/255


def test_mode_rgba_fully_transparent_becomes_white_not_black(tmp_path: Path) -> None:
    im = Image.new("RGBA", (3, 1))
    for x, value in enumerate([(0, 0, 0, 0), (255, 0, 0, 255), (255, 0, 0, 128)]):
        im.putpixel((x, 0), value)
    transparent, opaque, half = row_pixels(load_image(save(im, tmp_path / "alpha.png")))
    assert transparent == WHITE
    assert opaque == RED
    assert close_to(half, (255, 127, 127), tolerance=1)


def test_mode_p_without_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (2, 1))
    im.putpalette([10, 20, 30, 200, 100, 50])
    im.putpixel((1, 0), 1)
    path = save(im, tmp_path / "palette.png")
    assert Image.open(path).mode == "P"
    assert row_pixels(load_image(path)) == [(10, 20, 30), (200, 100, 50)]


@pytest.mark.parametrize("name", ["palette.png", "palette.gif"])
def test_mode_p_with_transparent_index(tmp_path: Path, name: str) -> None:
    im = Image.new("P", (2, 1))
    im.putpalette([0, 0, 0, 0, 0, 200])  # index 0 is black, but marked transparent
    im.putpixel((1, 0), 1)
    path = save(im, tmp_path / name, transparency=0)
    with Image.open(path) as opened:
        assert opened.mode == "P" and opened.info["transparency"] == 0
    assert row_pixels(load_image(path)) == [WHITE, (0, 0, 200)]


def test_mode_rgb_with_transparent_colour(tmp_path: Path) -> None:
    im = Image.new("RGB", (2, 1), (1, 2, 3))
    im.putpixel((1, 0), GREEN)
    path = save(im, tmp_path / "trns.png", transparency=(1, 2, 3))
    assert row_pixels(load_image(path)) == [WHITE, GREEN]


@pytest.mark.parametrize("name", ["ink.tif", "ink.jpg"])
def test_mode_cmyk(tmp_path: Path, name: str) -> None:
    im = Image.new("CMYK", (4, 1))
    for x, ink in enumerate([(0, 0, 0, 0), (255, 0, 0, 0), (0, 0, 0, 255), (0, 255, 255, 0)]):
        im.putpixel((x, 0), ink)
    path = save(im, tmp_path / name, **({"quality": 100} if name.endswith(".jpg") else {}))
    assert Image.open(path).mode == "CMYK"
    paper, cyan, black, red = row_pixels(load_image(path))
    tolerance = 0 if name.endswith(".tif") else 12
    assert close_to(paper, WHITE, tolerance)
    assert close_to(cyan, (0, 255, 255), tolerance)
    assert close_to(black, BLACK, tolerance)
    assert close_to(red, RED, tolerance)


# 0xFF00 (65280) tells proper scaling (-> 254) from taking the high byte (-> 255);
# 257 tells it from clipping at 255 (which would make it white).
SIXTEEN_BIT = np.array([[0, 257, 32768, 65280, 65535]])
SIXTEEN_BIT_AS_8 = [0, 1, 128, 254, 255]


def grey_row(values: list[int]) -> list[tuple[int, int, int]]:
    return [(v, v, v) for v in values]


def test_16bit_grey_png(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    path.write_bytes(raw_png(5, 1, 16, 0, SIXTEEN_BIT))
    with Image.open(path) as opened:
        assert opened.mode in ("I;16", "I")  # "I" before Pillow 10.3
    assert row_pixels(load_image(path)) == grey_row(SIXTEEN_BIT_AS_8)


def test_16bit_saved_by_pillow_as_i16(tmp_path: Path) -> None:
    im = Image.fromarray(SIXTEEN_BIT.astype(np.uint16))
    assert im.mode == "I;16"
    for name in ("deep.png", "deep.tif"):
        assert row_pixels(load_image(save(im, tmp_path / name))) == grey_row(SIXTEEN_BIT_AS_8)


def test_16bit_big_endian_tiff(tmp_path: Path) -> None:
    im = Image.frombytes("I;16B", (5, 1), SIXTEEN_BIT.astype(">u2").tobytes())
    path = save(im, tmp_path / "motorola.tif")
    assert Image.open(path).mode == "I;16B"
    assert row_pixels(load_image(path)) == grey_row(SIXTEEN_BIT_AS_8)


def test_16bit_pgm_opens_as_mode_i_and_still_uses_the_16bit_range(tmp_path: Path) -> None:
    path = tmp_path / "deep.pgm"
    path.write_bytes(b"P5\n5 1\n65535\n" + SIXTEEN_BIT.astype(">u2").tobytes())
    assert Image.open(path).mode == "I"
    assert row_pixels(load_image(path)) == grey_row(SIXTEEN_BIT_AS_8)


def test_10bit_pgm_uses_its_maxval(tmp_path: Path) -> None:
    path = tmp_path / "ten.pgm"
    path.write_bytes(b"P5\n3 1\n1023\n" + np.array([0, 512, 1023], dtype=">u2").tobytes())
    assert row_pixels(load_image(path)) == grey_row([0, 128, 255])


def test_16bit_rgb_and_grey_alpha_png(tmp_path: Path) -> None:
    rgb = tmp_path / "rgb48.png"
    rgb.write_bytes(raw_png(2, 1, 16, 2, np.array([[65535, 32768, 0, 0, 0, 65535]])))
    assert row_pixels(load_image(rgb)) == [(255, 128, 0), (0, 0, 255)]
    grey_alpha = tmp_path / "la32.png"
    grey_alpha.write_bytes(raw_png(2, 1, 16, 4, np.array([[0, 0, 0, 65535]])))
    assert row_pixels(load_image(grey_alpha)) == [WHITE, BLACK]  # transparent, opaque black


def test_32bit_int_is_stretched_over_its_own_range(tmp_path: Path) -> None:
    im = Image.fromarray(np.array([[-1000, 0, 3000, 100_000]], dtype=np.int32))
    path = save(im, tmp_path / "int.tif")
    assert Image.open(path).mode == "I"
    # (v + 1000) * 255 / 101000
    assert row_pixels(load_image(path)) == grey_row([0, 3, 10, 255])


def test_32bit_float_is_stretched_and_non_finite_is_black(tmp_path: Path) -> None:
    im = Image.fromarray(np.array([[0.5, 0.75, 1.5, np.nan, np.inf]], dtype=np.float32))
    path = save(im, tmp_path / "float.tif")
    assert Image.open(path).mode == "F"
    assert row_pixels(load_image(path)) == grey_row([0, 64, 255, 0, 0])


def test_flat_32bit_image_keeps_its_value_clipped(tmp_path: Path) -> None:
    for value, expected in [(70, 70), (70_000, 255), (-5, 0)]:
        im = Image.fromarray(np.full((2, 2), value, dtype=np.int32))
        path = save(im, tmp_path / f"flat{value}.tif")
        assert load_image(path).getpixel((0, 0)) == (expected,) * 3


def test_mode_ycbcr(tmp_path: Path) -> None:
    im = Image.new("YCbCr", (2, 1), (128, 128, 128))
    im.putpixel((1, 0), (76, 85, 255))  # red in YCbCr
    path = save(im, tmp_path / "video.tif")
    assert Image.open(path).mode == "YCbCr"
    grey, red = row_pixels(load_image(path))
    assert grey == (128, 128, 128)
    assert close_to(red, RED, tolerance=2)


def test_mode_lab(tmp_path: Path) -> None:
    im = Image.new("LAB", (3, 1))
    # L 0..255 means 0..100; a and b are stored with 128 as neutral.
    for x, lab in enumerate([(255, 128, 128), (0, 128, 128), (138, 208, 195)]):
        im.putpixel((x, 0), lab)
    path = save(im, tmp_path / "lab.tif")
    assert Image.open(path).mode == "LAB"
    white, black, red = row_pixels(load_image(path))
    assert close_to(white, WHITE, tolerance=3)
    assert close_to(black, BLACK, tolerance=3)
    assert red[0] > 230 and red[1] < 40 and red[2] < 40


def test_mode_hsv() -> None:
    # No file format Pillow reads yields HSV, so check the conversion helper directly.
    im = Image.new("HSV", (2, 1), (0, 255, 255))
    im.putpixel((1, 0), (85, 255, 128))  # a third of the hue circle: green, half value
    assert row_pixels(imageio._to_rgb(im, None)) == [RED, (0, 128, 0)]


# --- orientation, frames ----------------------------------------------------------------------


def test_exif_orientation_6_is_applied(tmp_path: Path) -> None:
    stored = Image.new("RGB", (40, 20), RED)
    stored.paste(BLUE, (20, 0, 40, 20))  # left half red, right half blue as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    path = save(stored, tmp_path / "phone.jpg", exif=exif, quality=95)

    assert probe_image(path) == ImageInfo(20, 40, "JPEG")
    upright = load_image(path)
    assert upright.size == (20, 40)
    assert close_to(upright.getpixel((10, 5)), RED, tolerance=10)  # stored left is now top
    assert close_to(upright.getpixel((10, 35)), BLUE, tolerance=10)
    assert load_image(path, max_side=10).size == (5, 10)


def test_exif_orientation_in_png_is_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 8
    path = save(Image.new("RGB", (40, 20), GREEN), tmp_path / "rotated.png", exif=exif)
    assert probe_image(path) == ImageInfo(20, 40, "PNG")
    assert load_image(path).size == (20, 40)


def test_unusual_orientation_value_is_ignored(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 9
    path = save(Image.new("RGB", (40, 20), GREEN), tmp_path / "odd.jpg", exif=exif)
    assert probe_image(path).width == 40 and load_image(path).size == (40, 20)


def three_frames() -> list[Image.Image]:
    return [Image.new("RGB", (24, 16), colour) for colour in (RED, GREEN, BLUE)]


@pytest.mark.parametrize(
    ("name", "params"), [("anim.gif", {"duration": 100, "loop": 0}), ("anim.webp", {"lossless": True}), ("pages.tif", {})]
)
def test_multi_frame_files_use_the_first_frame(tmp_path: Path, name: str, params: dict) -> None:
    if name.endswith(".webp") and not features.check("webp"):
        pytest.skip("Pillow built without WebP")
    first, *rest = three_frames()
    path = save(first, tmp_path / name, save_all=True, append_images=rest, **params)
    assert Image.open(path).n_frames == 3
    assert probe_image(path).width == 24
    assert load_image(path).getpixel((12, 8)) == RED


# --- broken files -----------------------------------------------------------------------------


def big_jpeg_bytes(progressive: bool = False) -> bytes:
    buffer = io.BytesIO()
    gradient(640, 480).save(buffer, "JPEG", quality=90, progressive=progressive)
    return buffer.getvalue()


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("keep", [0.5, 0.95, -2])  # -2: only the end-of-image marker is missing
def test_truncated_jpeg_is_rejected_even_in_draft_mode(tmp_path: Path, progressive: bool, keep: float) -> None:
    data = big_jpeg_bytes(progressive)
    cut = data[:keep] if isinstance(keep, int) else data[: int(len(data) * keep)]
    path = tmp_path / "cut.jpg"
    path.write_bytes(cut)
    assert "truncat" in reason_for(path, probe_image)  # probe decodes in draft mode
    assert "truncat" in reason_for(path, load_image)
    assert "truncat" in reason_for(path, lambda p: load_image(p, max_side=64))


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    gradient(200, 150).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("cut", [12, 100, "half"])  # 12: just the end chunk; pixels all there
def test_truncated_png_is_rejected(tmp_path: Path, cut: int | str) -> None:
    data = png_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2] if cut == "half" else data[:-cut])
    assert "truncat" in reason_for(path, probe_image)
    assert "truncat" in reason_for(path, load_image)


def test_png_with_damaged_pixel_data_is_rejected(tmp_path: Path) -> None:
    data = bytearray(png_bytes())
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "flipped.png"
    path.write_bytes(bytes(data))
    assert reason_for(path).startswith("corrupt")


def test_probe_leaves_pillow_global_state_alone(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    path.write_bytes(big_jpeg_bytes()[:-500])
    limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError):
        probe_image(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert Image.MAX_IMAGE_PIXELS == limit


def test_text_file_named_jpg_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    path.write_text("this is not a picture\n")
    assert reason_for(path) == "not an image (unrecognised format)"
    assert reason_for(path, load_image) == "not an image (unrecognised format)"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.touch()
    assert reason_for(path) == "empty file"


def test_missing_file(tmp_path: Path) -> None:
    assert reason_for(tmp_path / "nope.jpg") == "file not found"
    assert reason_for(tmp_path / "no-folder" / "nope.jpg", load_image) == "file not found"


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "looks-like.png"
    folder.mkdir()
    assert "folder" in reason_for(folder)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.png"
    os.mkfifo(pipe)
    assert reason_for(pipe) == "not a regular file (FIFO)"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root (or Windows) ignores the mode bits")
def test_unreadable_file(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (4, 4)), tmp_path / "secret.png")
    path.chmod(0)
    try:
        assert reason_for(path) == "permission denied"
    finally:
        path.chmod(0o644)


def test_decompression_bomb_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save(Image.new("RGB", (64, 64)), tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow errors above twice this
    for loader in (probe_image, load_image):
        # 4,096 pixels against Pillow's lowered limit of 200 (the lower of it and MAX_PIXELS)
        assert reason_for(path, loader) == "0.0041 MP is over the 0.0002 MP limit"


def test_an_image_over_max_pixels_is_refused_with_its_size_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert imageio.MAX_PIXELS == 178_000_000  # stated in README's import section
    assert imageio.MAX_PIXELS < 2 * Image.MAX_IMAGE_PIXELS  # so Pillow's own error never differs
    path = save(Image.new("RGB", (40, 30)), tmp_path / "scan.png")
    monkeypatch.setattr(imageio, "MAX_PIXELS", 1000)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
    for loader in (probe_image, load_image):
        assert reason_for(path, loader) == "0.0012 MP is over the 0.001 MP limit"
    assert imageio._over_limit(179_000_000, 178_000_000) == "179 MP is over the 178 MP limit"


@pytest.mark.parametrize("name", ["big.png", "big.jpg"])
def test_pillows_raw_bomb_warning_never_reaches_the_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder, name: str
) -> None:
    path = save(gradient(40, 30), tmp_path / name)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1,200 pixels: Pillow warns, no error
    assert probe_image(path) == ImageInfo(40, 30, "PNG" if name.endswith("png") else "JPEG")
    assert load_image(path, max_side=8).size == (8, 6)
    assert [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)] == []


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P"])
def test_large_images_are_reduced_before_rgb_conversion_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    path = save(gradient(400, 300).convert(mode), tmp_path / "big.png")
    reduced = np.asarray(load_image(path, max_side=50), dtype=np.int16)
    monkeypatch.setattr(imageio, "_reduced", lambda im, max_side: im)
    direct = np.asarray(load_image(path, max_side=50), dtype=np.int16)
    assert reduced.shape == direct.shape == (38, 50, 3)
    assert np.abs(reduced - direct).max() <= 3


def test_large_decodes_take_turns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save(gradient(40, 30), tmp_path / "scan.png")
    monkeypatch.setattr(imageio, "_LARGE_DECODE_PIXELS", 1000)
    with imageio._LARGE_DECODES:  # another thread's large decode
        worker = threading.Thread(target=probe_image, args=(path,))
        worker.start()
        worker.join(0.3)
        assert worker.is_alive()  # waits for its turn
    worker.join(5)
    assert not worker.is_alive()


@pytest.mark.parametrize("name", ["x.jpg", "x.png", "x.gif", "x.bmp", "x.tif", "x.webp", "x.ppm"])
def test_damaged_files_only_ever_raise_image_error(tmp_path: Path, name: str) -> None:
    buffer = io.BytesIO()
    gradient(48, 32).save(buffer, Image.registered_extensions()[Path(name).suffix])
    data = buffer.getvalue()
    rng = np.random.default_rng(len(data))
    damaged: list[bytes] = [data[:n] for n in (1, 4, 8, 16, 30, 64, len(data) - 1)]
    for _ in range(40):
        flipped = bytearray(data)
        for position in rng.integers(0, len(data), size=3):
            flipped[position] ^= int(rng.integers(1, 256))
        damaged.append(bytes(flipped))
    path = tmp_path / name
    for variant in damaged:
        path.write_bytes(variant)
        for loader in (probe_image, load_image):
            try:
                result = loader(path)
            except ImageError as error:
                assert error.reason
            else:  # some damage is harmless (e.g. inside metadata); then the result must be sane
                size = (result.width, result.height)
                assert size == (48, 32)


# --- paths and sizes --------------------------------------------------------------------------


def test_unicode_and_spaces_in_path(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (12, 9), GREEN), tmp_path / "Bilder ñ" / "été 1.png")
    assert probe_image(path) == ImageInfo(12, 9, "PNG")
    assert probe_image(str(path)) == ImageInfo(12, 9, "PNG")
    assert load_image(path).getpixel((0, 0)) == GREEN


@pytest.mark.parametrize("name", ["wide.png", "wide.jpg"])
def test_max_side_downscales_keeping_aspect(tmp_path: Path, name: str) -> None:
    picture = Image.new("RGB", (400, 200), BLUE)
    picture.paste(RED, (0, 0, 200, 200))
    path = save(picture, tmp_path / name)
    small = load_image(path, max_side=100)
    assert small.size == (100, 50) and small.mode == "RGB"
    assert close_to(small.getpixel((20, 25)), RED, tolerance=8)
    assert close_to(small.getpixel((80, 25)), BLUE, tolerance=8)


def test_max_side_never_upscales(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (400, 200), BLUE), tmp_path / "wide.png")
    assert load_image(path, max_side=1000).size == (400, 200)
    assert load_image(path, max_side=400).size == (400, 200)


def test_max_side_must_be_positive(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (4, 4)), tmp_path / "x.png")
    with pytest.raises(ValueError):
        load_image(path, max_side=0)


@pytest.mark.parametrize("name", ["wide.png", "wide.jpg", "tall.jpg"])
def test_short_side_brings_the_shorter_side_down_keeping_aspect(tmp_path: Path, name: str) -> None:
    # What the encoders decode to: the 4:3 crop keeps the whole shorter side, so it must stay at
    # least the network's input side while the rest of the work is skipped.
    size = (1200, 300) if name.startswith("wide") else (300, 900)
    path = save(gradient(*size), tmp_path / name, quality=90)
    small = load_image(path, short_side=100)
    assert 100 <= min(small.size) <= 200 and small.mode == "RGB"
    assert abs(max(small.size) / min(small.size) - max(size) / min(size)) < 0.05
    assert min(load_image(path, short_side=30).size) in range(30, 61)  # shrunk further when needed
    assert load_image(path, short_side=1000).size == size  # never enlarged
    with pytest.raises(ValueError, match="short_side"):
        load_image(path, short_side=0)
    with pytest.raises(ValueError, match="not both"):
        load_image(path, max_side=50, short_side=50)


def test_short_side_keeps_exif_orientation(tmp_path: Path) -> None:
    picture = Image.new("RGB", (400, 200), BLUE)
    picture.paste(RED, (0, 0, 200, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show it upright
    path = tmp_path / "turned.jpg"
    picture.save(path, exif=exif, quality=95)
    upright = load_image(path, short_side=50)
    assert upright.size in ((50, 100), (100, 200))
    width, height = upright.size
    assert close_to(upright.getpixel((width // 2, height // 10)), RED, tolerance=12)
    assert close_to(upright.getpixel((width // 2, height - height // 10)), BLUE, tolerance=12)


def test_large_jpeg(tmp_path: Path) -> None:
    path = save(gradient(4000, 3000), tmp_path / "big.jpg", quality=90)
    assert probe_image(path) == ImageInfo(4000, 3000, "JPEG")
    full = load_image(path)
    assert full.size == (4000, 3000) and full.mode == "RGB"
    # gradient(): red x*255//3999 = 127, green y*255//2999 = 127, blue (x+y)%256 = 172.
    assert close_to(full.getpixel((2000, 1500)), (127, 127, 172), tolerance=12)
    preview = load_image(path, max_side=256)
    assert preview.size == (256, 192)
    assert close_to(preview.getpixel((128, 96)), full.getpixel((2000, 1500)), tolerance=16)


def test_loaded_image_is_independent_of_the_file(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (8, 8), RED), tmp_path / "x.png")
    loaded = load_image(path)
    path.write_bytes(b"")  # the file may change after loading; the image must not care
    assert type(loaded) is Image.Image
    assert loaded.getpixel((7, 7)) == RED
