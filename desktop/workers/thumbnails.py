"""Small upright pictures of image files, decoded already scaled down, on a worker thread.

Two decoders share the work. Qt's ``QImageReader`` reads PNG, GIF, WebP and BMP, whose Qt
handlers fail quietly on damaged data, scaling while it reads. Pillow reads everything else:
JPEG (its ``draft`` asks libjpeg for a reduced DCT scale, so a 12 MP photo is decoded at an
eighth of its size), TIFF, CMYK, 16-bit, AVIF and the rest. Qt's JPEG and TIFF handlers are
avoided on purpose: they report damaged data as Qt warnings ("Corrupt JPEG data ..."), which the
app must not emit for a user's bad file. A file neither can read gives ``None``: the window shows
"no preview" and goes on.

The picture is turned upright from the EXIF orientation the probe read, the same value
:func:`~desktop.core.prepare.prepare` uses, so the thumbnail faces the way the image is sent
(Qt's own auto-transform ignores EXIF in PNG and WebP files). The result is a ``QImage`` (safe to
make off the GUI thread); the GUI thread turns it into a ``QPixmap``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QImageReader, QTransform

from desktop.core.images import Probe
from desktop.core.models import DECOMPRESSION_BOMB_PIXELS
from desktop.core.pillow_errors import DECODE_ERRORS
from desktop.workers.tasks import Report, Work

_log = logging.getLogger(__name__)

#: The longer side of a thumbnail, in pixels (smaller images are not enlarged).
THUMBNAIL_SIZE: Final = 160

#: Formats (as the probe names them) read with Qt: their handlers never print warnings.
QT_FORMATS: Final = frozenset({"png", "gif", "webp", "bmp"})

#: Pillow decodes formats without reduced-scale decoding in full; beyond this many pixels a
#: thumbnail is not worth the memory (about 400 MB) and the file gets "no preview".
FULL_DECODE_PIXELS: Final = 100_000_000

#: EXIF orientation -> (mirror left to right first, then turn this many degrees clockwise).
_UPRIGHT: Final[dict[int, tuple[bool, int]]] = {
    2: (True, 0),
    3: (False, 180),
    4: (True, 180),
    5: (True, 270),
    6: (False, 90),
    7: (True, 90),
    8: (False, 270),
}


@dataclass(frozen=True, slots=True)
class ThumbnailJob:
    """What the worker needs to know about one file (plain values from its probe).

    Attributes:
        path: the file.
        format: the real format the probe found (``png``, ``jpeg`` ...), or ``None``.
        orientation: the EXIF orientation the probe read (1 = upright).
        pixels: the declared pixel count (0 when unknown).
    """

    path: str
    format: str | None = None
    orientation: int = 1
    pixels: int = 0

    @classmethod
    def of(cls, probe: Probe) -> ThumbnailJob:
        """The job for a probed file."""
        return cls(probe.path, probe.format, probe.orientation, probe.pixels)


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """A thumbnail for one path; ``image`` is ``None`` when the file cannot be shown."""

    path: str
    image: QImage | None


def load_thumbnail(job: ThumbnailJob, size: int = THUMBNAIL_SIZE) -> QImage | None:
    """The first frame of *job*'s file, upright, fitting *size* x *size* pixels.

    Returns ``None`` for a file that cannot be read or decoded, or that declares more pixels
    than is safe to open; never raises for bad input.
    """
    if job.pixels > DECOMPRESSION_BOMB_PIXELS:
        return None
    image = _with_qt(job.path, size) if job.format in QT_FORMATS else None
    if image is None:
        image = _with_pillow(job.path, size)
    if image is None:
        return None
    return _finished(_upright(image, job.orientation), size)


def _with_qt(path: str, size: int) -> QImage | None:
    reader = QImageReader(path)
    # The orientation comes from the probe (see the module docstring).
    reader.setAutoTransform(False)
    declared = reader.size()
    if not declared.isValid():
        return None
    # Qt refuses (with a warning) to allocate beyond its limit; let Pillow judge such images.
    limit = reader.allocationLimit() * 1024 * 1024
    if limit and declared.width() * declared.height() * 4 > limit:
        return None
    if declared.width() > size or declared.height() > size:
        box = QSize(size, size)
        reader.setScaledSize(declared.scaled(box, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return None if image.isNull() else image


def _with_pillow(path: str, size: int) -> QImage | None:
    try:
        with Image.open(path) as opened:
            width, height = opened.size
            reducible = opened.format in ("JPEG", "MPO")
            limit = DECOMPRESSION_BOMB_PIXELS if reducible else FULL_DECODE_PIXELS
            if width * height > limit or width * height == 0:
                return None
            image: Image.Image = opened
            if image.mode.startswith("I;16") or image.mode in ("I", "F"):
                # Pillow resizes few wide-value modes; bring them to 8 bits first.
                image = _eight_bit_grey(image)
            image.thumbnail((size, size))
            return _qimage(image)
    except DECODE_ERRORS:
        return None


def _qimage(image: Image.Image) -> QImage:
    """A QImage owning a copy of *image*'s pixels (8-bit grey, RGB or RGBA)."""
    if image.mode == "L":
        data, fmt, depth = image.tobytes(), QImage.Format.Format_Grayscale8, 1
    elif "A" in image.getbands() or "transparency" in image.info:
        data, fmt, depth = image.convert("RGBA").tobytes(), QImage.Format.Format_RGBA8888, 4
    else:
        data, fmt, depth = image.convert("RGB").tobytes(), QImage.Format.Format_RGB888, 3
    width, height = image.size
    return QImage(data, width, height, width * depth, fmt).copy()


def _eight_bit_grey(image: Image.Image) -> Image.Image:
    """Wide grey values squeezed into 8 bits (16-bit by its full range, others by min to max)."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16"):
        low, high = 0.0, 65535.0
    else:
        low, high = float(values.min()), float(values.max())
    scaled = (values - low) * (255.0 / max(high - low, 1e-12))
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")


def _upright(image: QImage, orientation: int) -> QImage:
    """*image* (stored as the camera wrote it) turned and mirrored as its EXIF says."""
    mirror, degrees = _UPRIGHT.get(orientation, (False, 0))
    if mirror:
        image = image.flipped(Qt.Orientation.Horizontal)
    if degrees:
        image = image.transformed(QTransform().rotate(degrees))
    return image


def _finished(image: QImage, size: int) -> QImage:
    """*image* within the box, in a format the GUI thread turns into a pixmap cheaply."""
    if image.width() > size or image.height() > size:
        image = image.scaled(
            size,
            size,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    wanted = (
        QImage.Format.Format_ARGB32_Premultiplied
        if image.hasAlphaChannel()
        else QImage.Format.Format_RGB32
    )
    return image if image.format() == wanted else image.convertToFormat(wanted)


def thumbnail_work(jobs: Sequence[ThumbnailJob], size: int = THUMBNAIL_SIZE) -> Work:
    """The work of making thumbnails for *jobs*: one :class:`Thumbnail` report per file.

    The cancel flag is checked between files; returns how many were made.
    """
    todo = list(jobs)

    def work(report: Report, cancelled: threading.Event) -> int:
        done = 0
        for job in todo:
            if cancelled.is_set():
                break
            try:
                image = load_thumbnail(job, size)
            except Exception:  # noqa: BLE001 - a bug, not bad input: the other files go on
                _log.exception("making a thumbnail of %s failed unexpectedly", job.path)
                image = None
            report(Thumbnail(job.path, image))
            done += 1
        return done

    return work
