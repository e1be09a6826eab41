"""Turn a probed file into the exact bytes to send, and their data URL.

An image the rules accept as it is travels byte for byte (pass-through: no decode at all).
Any other is decoded once, first frame only, brought to 8-bit colour (grey, RGB or RGBA),
shrunk to the model's pixel budget, turned upright, and encoded: PNG for transparency and
graphics, JPEG quality 90 with 4:2:0 chroma for photos, stepping down (quality, then size)
until it fits in 5 MB.

JPEG photos take a fast path: Pillow decodes at a reduced DCT scale straight into Y, Cb and Cr
(``draft``), the planes are resized as they are and ``simplejpeg`` encodes them without a
round trip through RGB. Decode, resize and encode all release the GIL, so
:func:`prepare_many` scales over threads. Output carries no metadata (EXIF, ICC, text), and
the same input and settings always give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Final, cast, overload

import simplejpeg
from PIL import Image, UnidentifiedImageError

from desktop.core import payload
from desktop.core.images import Probe
from desktop.core.models import (
    ACCEPTED_MIME,
    DECOMPRESSION_BOMB_PIXELS,
    MAX_IMAGE_BYTES,
    Settings,
)
from desktop.core.pillow_errors import DECODE_ERRORS
from desktop.core.raster import (
    ORIENTATION_TRANSPOSE,
    PilRaster,
    Raster,
    Size,
    YuvRaster,
    scaled_sizes,
    to_sendable_mode,
    upright_size,
)
from desktop.core.rules import fitted_size, mb, needs_transform

_log = logging.getLogger(__name__)

#: Quality of every re-encoded JPEG, and the steps tried when that is over 5 MB.
JPEG_QUALITY: Final = 90
JPEG_QUALITY_STEPS: Final = (85, 75, 65)

_LIMIT_WORDS: Final = f"to fit under {MAX_IMAGE_BYTES // (1024 * 1024)} MB"


#: Pillow reader names for the probe's format names, where they differ or there are several.
_PILLOW_ALIASES: Final = {"BMP": ("BMP", "DIB")}


class PrepareError(Exception):
    """Why an image cannot be prepared, in plain words.

    Attributes:
        code: the restriction code this failure belongs to (``unreadable``,
            ``decompression-bomb`` or ``over-size-limit``).
    """

    def __init__(self, message: str, code: str = "unreadable") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Prepared:
    """The image exactly as it will travel.

    Attributes:
        mime: ``image/jpeg``, ``image/png``, ``image/webp`` or ``image/gif``.
        data: the image bytes that will be base64-encoded into the data URL.
        width: pixel width of what is sent.
        height: pixel height of what is sent.
        sha256: hex digest of ``data``.
        unchanged: ``True`` when ``data`` is the file's own bytes (pass-through).
        changes: plain-words list of what was done ("turned upright (EXIF orientation 6)",
            "shrunk from 4000 x 3000 to 1810 x 1357", ...); empty when unchanged.
    """

    mime: str
    data: bytes
    width: int
    height: int
    sha256: str
    unchanged: bool
    changes: tuple[str, ...] = ()


def data_url(prepared: Prepared) -> str:
    """The ``data:<mime>;base64,...`` URL of *prepared* (built on demand, never stored)."""
    return payload.data_url(prepared.mime, prepared.data)


def data_url_chars(prepared: Prepared) -> int:
    """The exact length of :func:`data_url` without building it."""
    return payload.data_url_chars(prepared.mime, len(prepared.data))


# --------------------------------------------------------------------------------------------
# One image


def prepare(probe: Probe, settings: Settings) -> Prepared:
    """The bytes to send for *probe* under *settings*.

    Raises:
        PrepareError: the file cannot be read, changed since it was probed, cannot be decoded,
            declares too many pixels, or cannot be brought under 5 MB. Nothing else is raised
            for bad input.
    """
    _refuse_unreadable(probe)
    data = _read_unchanged(probe)
    if not needs_transform(probe, settings):
        assert probe.format is not None
        assert probe.sha256 is not None
        return Prepared(
            mime=ACCEPTED_MIME[probe.format],
            data=data,
            width=probe.width,
            height=probe.height,
            sha256=probe.sha256,
            unchanged=True,
        )
    return _transform(data, probe, settings)


def _refuse_unreadable(probe: Probe) -> None:
    if not probe.ok or probe.sha256 is None or probe.format is None:
        detail = f" ({probe.error_detail})" if probe.error_detail else ""
        raise PrepareError(f"The file could not be read as an image{detail}.")
    if probe.pixels > DECOMPRESSION_BOMB_PIXELS:
        raise _bomb(probe.width, probe.height)


def _bomb(width: int, height: int) -> PrepareError:
    return PrepareError(
        f"The image says it is {width} x {height} ({width * height:,} pixels), beyond the "
        f"{DECOMPRESSION_BOMB_PIXELS:,} pixels the app will open safely.",
        code="decompression-bomb",
    )


def _read_unchanged(probe: Probe) -> bytes:
    try:
        with open(probe.path, "rb") as file:
            data = file.read()
    except FileNotFoundError as exc:
        raise PrepareError("The file is not there any more (moved or deleted).") from exc
    except PermissionError as exc:
        raise PrepareError("The app is not allowed to read this file any more.") from exc
    except IsADirectoryError as exc:
        raise PrepareError("This is now a folder, not a file.") from exc
    except OSError as exc:
        raise PrepareError(f"The file could not be read ({exc.strerror or exc}).") from exc
    if hashlib.sha256(data).hexdigest() != probe.sha256:
        raise PrepareError("The file changed since it was read; add it again.")
    return data


def _transform(data: bytes, probe: Probe, settings: Settings) -> Prepared:
    spec = settings.spec
    shrink = spec is not None and spec.resizes_large_images
    orientation = probe.orientation if probe.orientation in ORIENTATION_TRANSPOSE else 1
    changes: list[str] = []
    if probe.frames > 1:
        changes.append(f"first frame of {probe.frames}")
    try:
        image = Image.open(io.BytesIO(data), formats=_pillow_formats(probe.format))
        stored = image.size
        if stored[0] * stored[1] > DECOMPRESSION_BOMB_PIXELS:
            raise _bomb(*stored)
        upright = upright_size(stored, orientation)
        target = fitted_size(*upright) if shrink else upright
        stored_target = upright_size(target, orientation)
        raster, as_png = _decode(image, data, probe, stored_target, changes)
    except DECODE_ERRORS as exc:
        raise _decode_failure(exc) from exc
    if raster.size != stored_target:
        raster = raster.resized(stored_target)
    if target != upright:
        changes.append(f"shrunk from {upright[0]} x {upright[1]} to {target[0]} x {target[1]}")
    if orientation != 1:
        raster = raster.transposed(orientation)
        changes.append(f"turned upright (EXIF orientation {orientation})")
    return _encode_within_limit(raster, as_png, probe.format, changes)


@cache
def _pillow_formats(fmt: str | None) -> tuple[str, ...]:
    """The Pillow readers for the format the probe found (and only those: some readers
    accept almost any bytes).

    Raises:
        PrepareError: this build of Pillow has no reader for the format.
    """
    name = (fmt or "").upper()
    Image.init()
    names = tuple(n for n in _PILLOW_ALIASES.get(name, (name,)) if n in Image.OPEN)
    if not names:
        raise PrepareError(f"The app cannot read {name or 'this kind of'} images.")
    return names


def _decode(
    image: Image.Image,
    data: bytes,
    probe: Probe,
    stored_target: Size,
    changes: list[str],
) -> tuple[Raster, bool]:
    """Decode the first frame at the cheapest scale that still covers *stored_target*.

    Returns the pixels and whether to send them as PNG.
    """
    is_jpeg = image.format in ("JPEG", "MPO")
    shrinking = stored_target != image.size
    if is_jpeg and image.mode in ("RGB", "L") and _is_ycbcr_or_grey(data):
        scaled = image.draft("YCbCr", stored_target if shrinking else None)
        image.load()
        return YuvRaster.from_jpeg_image(image, scaled[1] if scaled else None), False
    box = None
    if is_jpeg and shrinking:
        scaled = image.draft(image.mode, stored_target)
        box = scaled[1] if scaled else None
    image.load()
    if box is not None and image.size != stored_target:
        image = image.resize(stored_target, Image.Resampling.BICUBIC, box=box)
    converted, words = to_sendable_mode(image, probe.bits, keep_palette=not shrinking)
    if words:
        changes.append(words)
    raster = PilRaster(converted)
    return raster, not is_jpeg and (raster.has_alpha or raster.looks_like_graphic())


def _is_ycbcr_or_grey(data: bytes) -> bool:
    """Whether libjpeg-turbo reads the JPEG as YCbCr or grey (not RGB-, CMYK- or YCCK-coded)."""
    try:
        _h, _w, colorspace, _sub = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return False  # let Pillow's general path decide, and word the error
    return colorspace in ("YCbCr", "Gray")


def _decode_failure(exc: BaseException) -> PrepareError:
    if isinstance(exc, UnidentifiedImageError):
        return PrepareError("This is not an image the app can read.")
    text = str(exc)
    if isinstance(exc, EOFError) or "truncated" in text.lower():
        return PrepareError(
            "The image is cut short: the file ends before the picture does "
            "(an unfinished download or copy?)."
        )
    if isinstance(exc, MemoryError):
        return PrepareError("There is not enough memory to open this image.")
    return PrepareError(f"The image data is damaged and cannot be decoded ({text or exc!r}).")


def _encode_within_limit(
    raster: Raster, as_png: bool, source_format: str | None, changes: list[str]
) -> Prepared:
    """Encode *raster*, stepping down (quality, then size) until it fits in 5 MB."""
    source = (source_format or "").upper()
    converted = source_format not in ACCEPTED_MIME
    if as_png and isinstance(raster, PilRaster):
        out = raster.png()
        changes.append(f"converted {source} to PNG" if converted else "re-encoded as PNG")
        if len(out) <= MAX_IMAGE_BYTES:
            return _prepared(out, "image/png", raster.size, changes)
        out = raster.png(optimize=True)
        if len(out) <= MAX_IMAGE_BYTES:
            changes.append(f"compressed the PNG harder {_LIMIT_WORDS}")
            return _prepared(out, "image/png", raster.size, changes)
        if raster.has_alpha:
            return _shrink_png(raster, len(out), changes)
        changes.append(f"switched to JPEG quality {JPEG_QUALITY} {_LIMIT_WORDS}")
    else:
        changes.append(
            f"converted {source} to JPEG quality {JPEG_QUALITY}"
            if converted
            else f"re-encoded as JPEG quality {JPEG_QUALITY}"
        )
    out = raster.jpeg(JPEG_QUALITY)
    if len(out) <= MAX_IMAGE_BYTES:
        return _prepared(out, "image/jpeg", raster.size, changes)
    for quality in JPEG_QUALITY_STEPS:
        out = raster.jpeg(quality)
        if len(out) <= MAX_IMAGE_BYTES:
            changes.append(f"reduced to quality {quality} {_LIMIT_WORDS}")
            return _prepared(out, "image/jpeg", raster.size, changes)
    changes.append(f"reduced to quality {JPEG_QUALITY_STEPS[-1]} {_LIMIT_WORDS}")
    for size in scaled_sizes(raster.size, math.sqrt(MAX_IMAGE_BYTES / len(out))):
        out = raster.resized(size).jpeg(JPEG_QUALITY_STEPS[-1])
        if len(out) <= MAX_IMAGE_BYTES:
            changes.append(f"shrunk to {size[0]} x {size[1]} {_LIMIT_WORDS}")
            return _prepared(out, "image/jpeg", size, changes)
    raise _too_big()


def _shrink_png(raster: PilRaster, nbytes: int, changes: list[str]) -> Prepared:
    for size in scaled_sizes(raster.size, math.sqrt(MAX_IMAGE_BYTES / nbytes)):
        out = raster.resized(size).png()
        if len(out) <= MAX_IMAGE_BYTES:
            changes.append(f"shrunk to {size[0]} x {size[1]} {_LIMIT_WORDS}")
            return _prepared(out, "image/png", size, changes)
    raise _too_big()


def _too_big() -> PrepareError:
    return PrepareError(
        f"Even at lower quality and smaller sizes this image stays over {mb(MAX_IMAGE_BYTES)}, "
        "so it cannot be sent.",
        code="over-size-limit",
    )


def _prepared(data: bytes, mime: str, size: Size, changes: list[str]) -> Prepared:
    return Prepared(
        mime=mime,
        data=data,
        width=size[0],
        height=size[1],
        sha256=hashlib.sha256(data).hexdigest(),
        unchanged=False,
        changes=tuple(changes),
    )


# --------------------------------------------------------------------------------------------
# Many images


@overload
def prepare_many(
    items: Iterable[tuple[Probe, Settings]],
    settings: None = None,
    *,
    max_workers: int | None = None,
    window: int | None = None,
) -> Generator[Prepared | PrepareError, None, None]: ...


@overload
def prepare_many(
    items: Iterable[Probe],
    settings: Settings,
    *,
    max_workers: int | None = None,
    window: int | None = None,
) -> Generator[Prepared | PrepareError, None, None]: ...


def prepare_many(
    items: Iterable[tuple[Probe, Settings]] | Iterable[Probe],
    settings: Settings | None = None,
    *,
    max_workers: int | None = None,
    window: int | None = None,
) -> Generator[Prepared | PrepareError, None, None]:
    """Prepare many images on a thread pool, yielding results in input order.

    *items* are ``(probe, settings)`` pairs, or probes when *settings* is given. Work starts
    on the first ``next()``; at most *window* images (default: twice the workers) are in
    flight or waiting to be taken, so prepared bytes are never all held at once. Each result
    is a :class:`Prepared` or the :class:`PrepareError` that image raised; one bad image never
    stops the others. Closing the iterator early cancels what has not started.

    Args:
        items: what to prepare.
        settings: the settings for every probe, when *items* are bare probes.
        max_workers: threads to use (default: ``os.cpu_count()``).
        window: how many images may be in flight at once.
    """
    if (max_workers is not None and max_workers < 1) or (window is not None and window < 1):
        raise ValueError("max_workers and window must be at least 1")
    workers = max_workers or os.cpu_count() or 1
    depth = window or 2 * workers
    if settings is None:
        pairs = cast(Iterable[tuple[Probe, Settings]], items)
    else:
        pairs = ((probe, settings) for probe in cast(Iterable[Probe], items))
    return _prepare_in_order(iter(pairs), workers, depth)


def _prepare_in_order(
    pairs: Iterator[tuple[Probe, Settings]], workers: int, depth: int
) -> Generator[Prepared | PrepareError, None, None]:
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prepare")
    pending: deque[Future[Prepared | PrepareError]] = deque()
    try:
        for probe, settings in pairs:
            pending.append(pool.submit(_prepare_or_error, probe, settings))
            if len(pending) >= depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _prepare_or_error(probe: Probe, settings: Settings) -> Prepared | PrepareError:
    try:
        return prepare(probe, settings)
    except PrepareError as exc:
        return exc
    except MemoryError:
        return PrepareError("There is not enough memory to prepare this image.")
    except Exception:  # noqa: BLE001 - logged, and turned into this item's failure
        # A bug, not bad input: keep the other images going, and leave a trace to fix it.
        _log.exception("preparing %s failed unexpectedly", probe.path)
        return PrepareError("The app failed to prepare this image (an internal error).")
