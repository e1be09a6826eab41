"""Judge one image data URL the way the API would: syntax, mime type, base64, size, real format,
and whether the bytes decode.

The format is read from the bytes (magic numbers), never trusted from the mime type, and the
pixels are decoded with the Pillow plugin for that format only, so a PNG labelled
``image/jpeg`` or a truncated file is caught here.
"""

from __future__ import annotations

import binascii
import hashlib
import io
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import pybase64
from PIL import GifImagePlugin, Image, ImageFile, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

from desktop.core.models import ACCEPTED_MIME, DECOMPRESSION_BOMB_PIXELS, MAX_IMAGE_BYTES
from desktop.emulator.refusal import invalid

#: Format names keyed by the mime types the API accepts.
FORMAT_BY_MIME: Final[dict[str, str]] = {mime: fmt for fmt, mime in ACCEPTED_MIME.items()}

#: Opening through the plugin class (not ``Image.open``) decodes only the claimed format and
#: skips Pillow's global bomb threshold, which this module replaces with its own check.
_OPENERS: Final[dict[str, Callable[[io.BytesIO], ImageFile.ImageFile]]] = {
    "jpeg": JpegImagePlugin.JpegImageFile,
    "png": PngImagePlugin.PngImageFile,
    "gif": GifImagePlugin.GifImageFile,
    "webp": WebPImagePlugin.WebPImageFile,
}

#: Bits per pixel reported as ``bit_depth``; modes not listed count 8 bits per band.
_BITS_PER_PIXEL: Final[dict[str, int]] = {"1": 1, "I;16": 16, "I;16B": 16, "I": 32, "F": 32}

#: Errors Pillow raises on corrupt or hostile input.
_DECODE_ERRORS: Final = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    MemoryError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """An image that passed every check, with the facts the response reports.

    Attributes:
        data: the image bytes decoded from base64.
        sha256: hex digest of :attr:`data`.
        format: ``jpeg``, ``png``, ``webp`` or ``gif``.
        width: width in pixels as stored in the file (first frame).
        height: height in pixels as stored in the file (first frame).
        bit_depth: bits per pixel of the decoded image.
    """

    data: bytes
    sha256: str
    format: str
    width: int
    height: int
    bit_depth: int


def sniff_format(data: bytes) -> str | None:
    """The image format the bytes really are, from their magic number, or ``None``."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"BM"):
        return "bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[4:8] == b"ftyp":
        return "heif or avif"
    if data.startswith(b"%PDF"):
        return "pdf"
    return None


def decode_image_url(url: object, where: str) -> DecodedImage:
    """Check the data URL at *where* (e.g. ``inputs[0].content[1].image_url.url``).

    Raises:
        Refusal: a 400 naming *where* and what is wrong with it.
    """
    if not isinstance(url, str):
        raise invalid(f"{where} must be a string holding a data URL")
    if not url.startswith("data:"):
        if url.startswith(("http://", "https://")):
            raise invalid(
                f"{where} is a web address; images must be sent as base64 data URLs "
                "(data:image/png;base64,...)"
            )
        raise invalid(
            f"{where} is not a data URL: it must start with 'data:image/<jpeg|png|webp|gif>;"
            "base64,' (bare base64 is not accepted)"
        )
    header, comma, payload = url[5:].partition(",")
    if not comma:
        raise invalid(f"{where} has no ',' between the data URL header and the image data")
    params = [p.strip().lower() for p in header.split(";")]
    mime = params[0]
    if mime == "image/jpg":
        raise invalid(
            f"{where} has mime type image/jpg, which is not a valid mime type; use image/jpeg"
        )
    if mime not in FORMAT_BY_MIME:
        raise invalid(
            f"{where} has unsupported mime type '{mime or '(none)'}'; "
            "use image/jpeg, image/png, image/webp or image/gif"
        )
    if len(params) < 2 or params[-1] != "base64":
        raise invalid(f"{where} lacks the ';base64' marker: send data:{mime};base64,<data>")
    if not payload:
        raise invalid(f"{where} holds no image data after the comma")
    try:
        data = pybase64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{where} is not valid base64") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise invalid(
            f"{where} is an image of {len(data)} bytes; an image may be at most 5 MiB "
            f"({MAX_IMAGE_BYTES} bytes)"
        )
    declared = FORMAT_BY_MIME[mime]
    actual = sniff_format(data)
    if actual is None:
        raise invalid(f"{where} is not an image: its bytes are not JPEG, PNG, WebP or GIF")
    if actual != declared:
        raise invalid(
            f"{where} says {mime} but its bytes are a {actual.upper()} image; "
            "the mime type must match the image"
        )
    return _decode(data, declared, where)


def _decode(data: bytes, fmt: str, where: str) -> DecodedImage:
    opener = _OPENERS[fmt]
    try:
        with opener(io.BytesIO(data)) as header:
            width, height = header.size
            mode = header.mode
        if width * height > DECOMPRESSION_BOMB_PIXELS:
            raise invalid(
                f"{where} declares {width}x{height} pixels, more than the "
                f"{DECOMPRESSION_BOMB_PIXELS} this server will decode"
            )
        with opener(io.BytesIO(data)) as checked:
            checked.verify()
        with opener(io.BytesIO(data)) as full:
            full.load()
    except _DECODE_ERRORS as exc:
        raise invalid(f"{where} could not be decoded as {fmt.upper()}: {exc}") from None
    bits = _BITS_PER_PIXEL.get(mode, 8 * Image.getmodebands(mode))
    return DecodedImage(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        format=fmt,
        width=width,
        height=height,
        bit_depth=bits,
    )
