"""Decode one item for the preview: the original and what will be sent, at one shared scale.

The original is decoded from the file (first frame, EXIF orientation applied) scaled so its
longer side fits the preview box. What will be sent is decoded from the bytes that will really
travel: the file itself for a pass-through image, or the output of :func:`prepare` for one the
app transforms. Both use the same scale factor, so an image the app shrinks looks smaller.
Runs on a worker thread and returns plain data (QImage is thread-safe; QPixmap is not).
"""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass
from typing import Final

from PIL import Image
from PySide6.QtGui import QImage

from desktop.core.assess import Sent
from desktop.core.images import Probe
from desktop.core.models import DECOMPRESSION_BOMB_PIXELS, Settings
from desktop.core.payload import data_url
from desktop.core.pillow_errors import DECODE_ERRORS
from desktop.core.prepare import PrepareError, prepare
from desktop.core.raster import ORIENTATION_TRANSPOSE, to_sendable_mode, upright_size
from desktop.workers.tasks import Report

#: The longer side of the original in the preview, in pixels (never enlarged).
PREVIEW_BOX: Final = 480
#: How many image bytes the data URL's head shows (a multiple of 3: base64 of a prefix is
#: then exactly a prefix of the whole base64).
DATA_URL_HEAD_BYTES: Final = 60

_PILLOW_ALIASES: Final = {"BMP": ("BMP", "DIB"), "JPEG": ("JPEG", "MPO")}


@dataclass(frozen=True, slots=True)
class PreviewJob:
    """What the preview worker needs (plain values, copied on the GUI thread).

    Attributes:
        token: identifies the selection this job is for; older tokens are ignored.
        probe: the item's probe (it must be ``ok``).
        settings: the settings that decide what is sent.
        send: whether the item will be sent at all (no error); if not, only the original.
        box: the longer side of the original in the preview.
    """

    token: int
    probe: Probe
    settings: Settings
    send: bool
    box: int = PREVIEW_BOX


@dataclass(frozen=True, slots=True)
class PreviewImages:
    """What the worker found; reported once with the original only, then complete.

    Attributes:
        token: the job's token.
        scale: preview pixels per image pixel, shared by both images.
        original: the original, upright, scaled (``None`` if it could not be decoded).
        original_error: why the original could not be shown, in plain words.
        sent: what will be sent, decoded from the very bytes sent, at the same scale.
        sent_info: the facts of what will be sent, from this preparation.
        sent_error: why what will be sent could not be worked out.
        data_url_head: the first characters of the data URL.
        complete: ``False`` for the early report carrying the original only.
    """

    token: int
    scale: float
    original: QImage | None = None
    original_error: str = ""
    sent: QImage | None = None
    sent_info: Sent | None = None
    sent_error: str = ""
    data_url_head: str = ""
    complete: bool = True


def preview_scale(width: int, height: int, box: int = PREVIEW_BOX) -> float:
    """The factor that fits *width* x *height* into *box* (never above 1: no enlarging)."""
    longest = max(width, height)
    return min(1.0, box / longest) if longest > 0 else 1.0


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """*width* x *height* times *scale*, at least one pixel each way."""
    return max(1, round(width * scale)), max(1, round(height * scale))


def data_url_head(mime: str, data: bytes, nbytes: int = DATA_URL_HEAD_BYTES) -> str:
    """The first characters of the data URL of *data* (with "…" when there is more)."""
    head = data_url(mime, data[:nbytes])
    return head + "…" if len(data) > nbytes else head


def _readers(fmt: str | None) -> tuple[str, ...] | None:
    name = (fmt or "").upper()
    Image.init()
    names = tuple(n for n in _PILLOW_ALIASES.get(name, (name,)) if n in Image.OPEN)
    return names or None


def decode_scaled(
    data: bytes, fmt: str | None, size: tuple[int, int], orientation: int = 1, bits: int = 8
) -> QImage:
    """Decode the first frame of *data*, turned upright, at exactly *size* (upright).

    Raises:
        ValueError: the data cannot be decoded (the message says why).
    """
    try:
        with Image.open(io.BytesIO(data), formats=_readers(fmt)) as image:
            if image.width * image.height > DECOMPRESSION_BOMB_PIXELS:
                raise ValueError("the image has too many pixels to open safely")
            stored = upright_size(size, orientation)
            if image.format in ("JPEG", "MPO"):
                image.draft(None, stored)  # decode at a reduced DCT scale: much faster
            image.load()
            pixels, _words = to_sendable_mode(image, bits, keep_palette=False)
        if pixels.size != stored:
            pixels = pixels.resize(stored, Image.Resampling.BICUBIC, reducing_gap=3.0)
        transpose = ORIENTATION_TRANSPOSE.get(orientation)
        if transpose is not None:
            pixels = pixels.transpose(transpose)
        rgba = pixels.convert("RGBA")
    except DECODE_ERRORS as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc
    raw = rgba.tobytes()
    width, height = rgba.size
    # copy(): the QImage must own its pixels, not borrow the Python bytes.
    return QImage(raw, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()


def make_preview(job: PreviewJob, report: Report, cancelled: threading.Event) -> PreviewImages:
    """Decode the original and what will be sent (the work of one preview task)."""
    probe = job.probe
    upright = upright_size((probe.width, probe.height), probe.orientation)
    scale = preview_scale(*upright, box=job.box)
    original: QImage | None = None
    original_error = ""
    try:
        with open(probe.path, "rb") as file:
            data = file.read()
    except OSError as exc:
        return PreviewImages(job.token, scale, original_error=f"The file cannot be read ({exc}).")
    if hashlib.sha256(data).hexdigest() != probe.sha256:
        original_error = "The file changed since it was read; add it again to see it."
    else:
        try:
            original = decode_scaled(
                data, probe.format, scaled_size(*upright, scale), probe.orientation, probe.bits
            )
        except ValueError as exc:
            original_error = f"The image cannot be shown: {exc}"
    report(PreviewImages(job.token, scale, original, original_error, complete=False))
    if not job.send or cancelled.is_set():
        return PreviewImages(job.token, scale, original, original_error)
    try:
        prepared = prepare(probe, job.settings)
    except PrepareError as exc:
        return PreviewImages(job.token, scale, original, original_error, sent_error=str(exc))
    sent: QImage | None = None
    sent_error = ""
    if prepared.unchanged:
        # The very same bytes as the original (and an unchanged image is already upright).
        sent, sent_error = original, original_error
    elif not cancelled.is_set():
        try:
            fmt = prepared.mime.removeprefix("image/")
            size = scaled_size(prepared.width, prepared.height, scale)
            sent = decode_scaled(prepared.data, fmt, size)
        except ValueError as exc:
            sent_error = f"What will be sent cannot be shown: {exc}"
    return PreviewImages(
        job.token,
        scale,
        original,
        original_error,
        sent=sent,
        sent_info=Sent.of(prepared),
        sent_error=sent_error,
        data_url_head=data_url_head(prepared.mime, prepared.data),
    )
