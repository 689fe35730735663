"""Render aldesk's SVG icon to the PNG sizes desktops use, and to .ico/.icns for other systems.

Run from the repository root after changing the SVG:
    QT_QPA_PLATFORM=offscreen python packaging/icons/render_icons.py

Qt's own SVG renderer draws the PNGs (PySide6 is already a dependency); Pillow packs the
Windows .ico and the macOS .icns from those PNGs, so no other tool is needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ROOT = Path(__file__).resolve().parents[2]
HICOLOR = ROOT / "resources" / "icons" / "hicolor"
SVG = HICOLOR / "scalable" / "apps" / "aldesk.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)  # the hicolor sizes desktops look up most
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)  # .ico holds at most 256 px
ICNS_SIZES = (16, 32, 64, 128, 256, 512)


def png_path(size: int) -> Path:
    return HICOLOR / f"{size}x{size}" / "apps" / "aldesk.png"


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def main() -> int:
    _app = QGuiApplication(sys.argv[:1])  # QImage painting needs a GUI application object
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"cannot read the icon {SVG}", file=sys.stderr)
        return 1
    for size in SIZES:
        target = png_path(size)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not render(renderer, size).save(str(target), "PNG"):
            print(f"could not write {target}", file=sys.stderr)
            return 1
    largest = Image.open(png_path(max(SIZES))).convert("RGBA")
    out = ROOT / "packaging" / "icons"
    # Pillow downsamples the largest image for each size; the small PNGs from Qt are sharper,
    # so .ico gets them one by one.
    frames = [Image.open(png_path(s)).convert("RGBA") for s in ICO_SIZES]
    frames[-1].save(out / "aldesk.ico", format="ICO", sizes=[(s, s) for s in ICO_SIZES], append_images=frames[:-1])
    largest.save(out / "aldesk.icns", format="ICNS", sizes=[(s, s) for s in ICNS_SIZES])
    print(f"wrote {len(SIZES)} PNGs under {HICOLOR}, aldesk.ico and aldesk.icns in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
