"""Render the app icon from its SVG source into the PNG, ICO and ICNS files packaging needs.

    .venv/bin/python packaging/make_icons.py OUT_DIR

Qt draws the SVG (QtSvg comes with PySide6-Essentials); Pillow writes the ICO and ICNS.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SOURCE = Path(__file__).resolve().parent.parent / "resources" / "icon.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(renderer: QSvgRenderer, size: int) -> Image.Image:
    """The icon at *size* x *size* pixels as a Pillow image."""
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    # Format_ARGB32 is 0xAARRGGBB per pixel: B, G, R, A bytes on little-endian machines.
    pixels = bytes(image.constBits())
    return Image.frombuffer("RGBA", (size, size), pixels, "raw", "BGRA", 0, 1).copy()


def main() -> int:
    """Write icon PNGs, icon.ico and icon.icns into the folder named on the command line."""
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/icons")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QGuiApplication([])
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        print(f"make_icons: cannot read {SOURCE}", file=sys.stderr)
        return 1
    images = {size: render(renderer, size) for size in SIZES}
    for size, image in images.items():
        image.save(out / f"embed-studio-{size}.png")
    largest = images[SIZES[-1]]
    largest.save(out / "icon.ico", sizes=[(s, s) for s in SIZES if s <= 256])
    largest.save(out / "icon.icns")
    del app
    print(f"icons written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
