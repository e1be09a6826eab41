"""Probe image files without decoding their pixels, and find the image files under folders.

A :class:`Probe` says what a file really is (format from its bytes, not its name), how big it
is, and what a later stage would have to change before sending it. Probing never raises: a file
that cannot be read becomes a probe with :attr:`Probe.error` set, so one bad file never costs
another file its result.

:func:`collect_paths` turns the files and folders a user names into the list of files to probe;
:func:`probe_many` probes them on a thread pool, in order, holding only a bounded window of files.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import stat
import threading
import warnings
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import IO, Final, TypeAlias

from PIL import Image, ImageFile, UnidentifiedImageError

from desktop.core.models import DECOMPRESSION_BOMB_PIXELS
from desktop.core.pillow_errors import HEADER_ERRORS

# The probe decides on bombs itself (rule `decompression-bomb`); Pillow must not raise first.
Image.MAX_IMAGE_PIXELS = None
# Pillow logs some damaged headers at error level; with no logging set up, Python would print
# them on stderr. Handlers the app configures still receive them.
logging.getLogger("PIL").addHandler(logging.NullHandler())

#: A path as the OS takes it; bytes paths keep names that are not valid UTF-8.
AnyPath: TypeAlias = str | bytes | os.PathLike[str] | os.PathLike[bytes]

#: Extensions taken as images when walking folders (anything else is sniffed, then skipped).
IMAGE_EXTENSIONS: Final = frozenset(
    {
        "jpg",
        "jpeg",
        "jpe",
        "jfif",
        "png",
        "apng",
        "webp",
        "gif",
        "bmp",
        "dib",
        "tif",
        "tiff",
        "ico",
        "heic",
        "heif",
        "avif",
        "ppm",
        "pgm",
        "pbm",
        "pnm",
        "tga",
        "jp2",
        "j2k",
        "dds",
        "pcx",
        "psd",
        "qoi",
    }
)

#: What an extension claims, as the probe's format names.
EXTENSION_FORMATS: Final[dict[str, str]] = {
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "jpe": "jpeg",
    "jfif": "jpeg",
    "png": "png",
    "apng": "png",
    "webp": "webp",
    "gif": "gif",
    "bmp": "bmp",
    "dib": "bmp",
    "tif": "tiff",
    "tiff": "tiff",
    "ico": "ico",
    "ppm": "ppm",
    "pgm": "ppm",
    "pbm": "ppm",
    "pnm": "ppm",
    "tga": "tga",
    "jp2": "jpeg2000",
    "j2k": "jpeg2000",
    "dds": "dds",
    "pcx": "pcx",
    "psd": "psd",
    "qoi": "qoi",
    "avif": "avif",
    "heic": "heif",
    "heif": "heif",
}

#: Pillow format names folded to the names the app speaks of (an MPO is a JPEG with extras).
_FORMAT_ALIASES: Final = {"mpo": "jpeg", "dib": "bmp"}

#: Files up to this size are read once into memory; bigger ones are hashed in chunks.
WHOLE_READ_LIMIT: Final = 64 * 1024 * 1024

#: How much of each end of a big file the structure checks look at.
_EDGE_BYTES: Final = 1 << 20
_SNIFF_BYTES: Final = 32
#: Icons are decoded by Pillow as they open; ones with a picture larger than this (the format
#: itself stops at 256 x 256) are described from their headers instead.
_ICO_OPEN_PIXELS: Final = 1024 * 1024
_ORIENTATION_TAG: Final = 0x0112
_ALPHA_MODES: Final = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})

# O_NONBLOCK: opening a fifo (swapped in after the stat, say) must not wait for a writer.
_OPEN_FLAGS: Final = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)

#: Pillow readers tried on every file, in this order.
_PILLOW_FORMATS: Final = (
    "JPEG",
    "PNG",
    "WEBP",
    "GIF",
    "BMP",
    "TIFF",
    "ICO",
    "PPM",
    "PSD",
    "DDS",
    "JPEG2000",
    "QOI",
    "AVIF",
)
# These readers accept almost any first bytes (random data "opens" as a TGA), so they are
# tried only when the file's name asks for them.
_PILLOW_FORMATS_BY_EXTENSION: Final = {"tga": "TGA", "pcx": "PCX", "dib": "DIB"}


_PNG_END: Final = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_EOI: Final = b"\xff\xd9"


class ProbeError(StrEnum):
    """Why a file could not be probed; each maps to the ``unreadable`` rule's wording."""

    MISSING = "missing"
    PERMISSION = "permission"
    EMPTY = "empty"
    NOT_IMAGE = "not-image"
    TRUNCATED = "truncated"
    NOT_A_FILE = "not-a-file"
    OS_ERROR = "os-error"


@dataclass(frozen=True, slots=True)
class Probe:
    """What a file is, read from its header only.

    Attributes:
        path: the path as given (or found while walking a folder).
        file_bytes: the file's size in bytes (0 when it could not be read).
        sha256: hex digest of the file's bytes, or ``None`` when unreadable.
        format: the real format from the bytes (``jpeg``, ``png``, ``webp``, ``gif``, ``bmp``,
            ``tiff`` ...), or ``None`` when not an image.
        extension: the file name's extension, lower case, without the dot ('' if none).
        width: pixel width as declared by the header (0 when unknown).
        height: pixel height as declared by the header (0 when unknown).
        mode: the Pillow mode (``RGB``, ``RGBA``, ``P``, ``CMYK``, ``I;16`` ...).
        bits: bits per channel (8 or 16; 32 for float or int modes, 1 for bilevel).
        frames: the number of frames (more than 1 for animations).
        orientation: the EXIF orientation (1 = upright, 2..8 = flipped or rotated).
        has_alpha: whether the image carries transparency.
        error: why the file could not be read, or ``None``.
        error_detail: the underlying message for an error, for people debugging.
    """

    path: str
    file_bytes: int = 0
    sha256: str | None = None
    format: str | None = None
    extension: str = ""
    width: int = 0
    height: int = 0
    mode: str | None = None
    bits: int = 8
    frames: int = 1
    orientation: int = 1
    has_alpha: bool = False
    error: ProbeError | None = None
    error_detail: str = ""

    @property
    def ok(self) -> bool:
        """Whether the file was read and recognised as an image."""
        return self.error is None

    @property
    def pixels(self) -> int:
        """Declared pixel count."""
        return self.width * self.height

    @property
    def name(self) -> str:
        """The file name, for display."""
        return os.path.basename(self.path) or self.path

    @property
    def extension_format(self) -> str | None:
        """The format the extension claims, or ``None`` when it claims none we know."""
        return EXTENSION_FORMATS.get(self.extension)


def extension_of(path: str | os.PathLike[str]) -> str:
    """The lower-case extension of *path* without its dot."""
    suffix = Path(os.fsdecode(path)).suffix
    return suffix[1:].lower() if suffix else ""


# --------------------------------------------------------------------------------------------
# Recognising formats from their first bytes


def _bmp_magic(head: bytes) -> bool:
    # "BM" alone starts too many text files; the DIB header size behind it is one of a few.
    return head.startswith(b"BM") and int.from_bytes(head[14:18], "little") in {
        12,
        40,
        52,
        56,
        64,
        108,
        124,
    }


def _ico_magic(head: bytes) -> bool:
    return head.startswith(b"\x00\x00\x01\x00") and head[4:6] != b"\x00\x00" and head[9:10] == b"\0"


def _pnm_magic(head: bytes) -> bool:
    return len(head) >= 3 and head[0:1] == b"P" and head[1] in b"1234567" and head[2] in b" \t\r\n"


_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1"})
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})


def sniff_format(head: bytes) -> str | None:
    """The image format *head* (a file's first 32 bytes or more) starts like, or ``None``.

    A cheap magic-number check for walking folders and for naming what a damaged file was
    meant to be; only :func:`probe_file` says whether the file can really be read.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "tiff"
    if _bmp_magic(head):
        return "bmp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AVIF_BRANDS:
            return "avif"
        if brand in _HEIF_BRANDS:
            return "heif"
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "jpeg2000"
    if head.startswith(b"8BPS"):
        return "psd"
    if head.startswith(b"qoif"):
        return "qoi"
    if head.startswith(b"DDS "):
        return "dds"
    if _ico_magic(head):
        return "ico"
    if _pnm_magic(head):
        return "ppm"
    return None


# --------------------------------------------------------------------------------------------
# Reading a file


class _NotRegularFileError(OSError):
    """The path is a folder, a pipe, a socket or a device, not a file with bytes to read."""


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _open_regular(path: AnyPath) -> io.BufferedReader:
    """Open *path* for reading if it is a regular file, else raise an OSError saying why."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _NotRegularFileError(f"the path is {_kind_of(mode)}")
    fd = os.open(path, _OPEN_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _NotRegularFileError(f"the path is {_kind_of(mode)}")
        return open(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@dataclass(frozen=True, slots=True)
class _Contents:
    """The bytes the structure checks see: the whole file, or the two ends of a big one."""

    size: int
    head: bytes
    tail: bytes
    tail_start: int

    @property
    def whole(self) -> bool:
        return self.tail_start == 0 and len(self.tail) == self.size


def _edges(file: IO[bytes], size: int) -> _Contents:
    file.seek(0)
    head = file.read(_EDGE_BYTES)
    tail_start = max(0, size - _EDGE_BYTES)
    file.seek(tail_start)
    tail = file.read()
    file.seek(0)
    return _Contents(size, head, tail, tail_start)


def _error_for(exc: OSError) -> ProbeError:
    if isinstance(exc, (_NotRegularFileError, IsADirectoryError)):
        return ProbeError.NOT_A_FILE
    # A link loop is a broken link too.
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)) or exc.errno == errno.ELOOP:
        return ProbeError.MISSING
    if isinstance(exc, PermissionError):
        return ProbeError.PERMISSION
    return ProbeError.OS_ERROR


def _os_detail(exc: OSError) -> str:
    if isinstance(exc, _NotRegularFileError):
        return str(exc)
    return exc.strerror or str(exc)


def probe_file(path: AnyPath, *, whole_read_limit: int = WHOLE_READ_LIMIT) -> Probe:
    """Read the header of the file at *path*: what it is, and why not when it is not an image.

    Never raises (short of ``KeyboardInterrupt`` or ``MemoryError``): failures come back as a
    probe with :attr:`Probe.error` set. Pixels are never decoded. A file up to
    *whole_read_limit* bytes is read once into memory (hashed and parsed from there); a bigger
    one is hashed in chunks and parsed from disk.
    """
    text_path = os.fsdecode(path)
    base = Probe(path=text_path, extension=extension_of(text_path))
    try:
        with _open_regular(path) as file:
            size = os.fstat(file.fileno()).st_size
            if size > whole_read_limit:
                digest = hashlib.file_digest(file, "sha256").hexdigest()
                size = file.tell()
                return _probe_contents(base, _edges(file, size), digest, file)
            data = file.read()
    except OSError as exc:
        return replace(base, error=_error_for(exc), error_detail=_os_detail(exc))
    except ValueError as exc:  # a path with a NUL byte in it
        return replace(base, error=ProbeError.OS_ERROR, error_detail=str(exc))
    digest = hashlib.sha256(data).hexdigest()
    return _probe_contents(base, _Contents(len(data), data, data, 0), digest, io.BytesIO(data))


# --------------------------------------------------------------------------------------------
# Parsing the header


_PILLOW_LOCK: Final = threading.Lock()


@contextmanager
def _quiet_pillow() -> Iterator[None]:
    """Keep Pillow's warnings about odd files (bad EXIF, odd APNG ...) from escaping.

    ``warnings.catch_warnings`` swaps process-wide state, so two threads in it at once can
    leave the filters wrong for good; the lock makes the probe's swaps happen one at a time.
    """
    with _PILLOW_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _pillow_formats(extension: str) -> tuple[str, ...]:
    """The Pillow readers to try on a file with this extension."""
    return _available_readers(_PILLOW_FORMATS_BY_EXTENSION.get(extension))


@cache
def _available_readers(extra: str | None) -> tuple[str, ...]:
    Image.init()
    wanted = _PILLOW_FORMATS if extra is None else (*_PILLOW_FORMATS, extra)
    # Image.open raises KeyError for a name this build of Pillow has no reader for.
    return tuple(name for name in wanted if name in Image.OPEN)


@dataclass(frozen=True, slots=True)
class _Header:
    format: str
    width: int
    height: int
    mode: str
    bits: int
    frames: int
    orientation: int
    has_alpha: bool
    #: Where the pixel data ends by the header's own account, for formats that say so.
    data_end: int | None


def _probe_contents(base: Probe, contents: _Contents, digest: str, source: IO[bytes]) -> Probe:
    read = replace(base, file_bytes=contents.size, sha256=digest)
    if contents.size == 0:
        return replace(read, error=ProbeError.EMPTY, error_detail="the file has 0 bytes")
    sniffed = sniff_format(contents.head)
    bomb = _declared_bomb(read, contents, sniffed)
    if bomb is not None:
        return bomb
    try:
        with _quiet_pillow(), Image.open(source, formats=_pillow_formats(base.extension)) as im:
            header = _read_header(im)
    except HEADER_ERRORS as exc:
        return _unreadable(read, contents, sniffed, exc)
    probe = replace(
        read,
        format=header.format,
        width=header.width,
        height=header.height,
        mode=header.mode,
        bits=header.bits,
        frames=header.frames,
        orientation=header.orientation,
        has_alpha=header.has_alpha,
    )
    if header.width <= 0 or header.height <= 0:
        detail = f"the header declares an empty picture ({header.width} x {header.height})"
        return replace(probe, error=ProbeError.NOT_IMAGE, error_detail=detail)
    cut = _cut_short(header.format, contents, header.data_end)
    if cut is not None:
        return replace(probe, error=ProbeError.TRUNCATED, error_detail=cut)
    return probe


def _unreadable(read: Probe, contents: _Contents, sniffed: str | None, exc: Exception) -> Probe:
    # UnidentifiedImageError's own text names a BytesIO object: useless to anyone.
    unidentified = isinstance(exc, UnidentifiedImageError)
    message = "no image format recognised" if unidentified else f"{type(exc).__name__}: {exc}"
    if sniffed is None:
        return replace(read, error=ProbeError.NOT_IMAGE, error_detail=message)
    cut = _cut_short(sniffed, contents, None)
    if cut is not None:
        detail = cut if unidentified else f"{cut} ({message})"
        return replace(read, format=sniffed, error=ProbeError.TRUNCATED, error_detail=detail)
    detail = f"its first bytes say {sniffed.upper()}, but it cannot be read ({message})"
    return replace(read, error=ProbeError.NOT_IMAGE, error_detail=detail)


def _read_header(im: ImageFile.ImageFile) -> _Header:
    pillow_format = (im.format or "").lower()
    fmt = _FORMAT_ALIASES.get(pillow_format, pillow_format)
    return _Header(
        format=fmt,
        width=im.width,
        height=im.height,
        mode=im.mode,
        bits=_bits(im),
        # An MPO's extra pictures (a stereo pair, a depth map) are not animation frames.
        frames=1 if pillow_format == "mpo" else _frames(im),
        orientation=_orientation(im, fmt),
        has_alpha=im.mode in _ALPHA_MODES or "transparency" in im.info,
        data_end=_data_end(im, fmt),
    )


def _frames(im: ImageFile.ImageFile) -> int:
    n = getattr(im, "n_frames", 1)
    return n if isinstance(n, int) and n > 0 else 1


def _ints(value: object) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,)
    if isinstance(value, tuple):
        return tuple(v for v in value if isinstance(v, int))
    return ()


def _bits(im: ImageFile.ImageFile) -> int:
    mode = im.mode
    if mode == "1":
        return 1
    if mode.startswith("I;16"):
        return 16
    if mode in ("I", "F"):
        return 32
    # A 48- or 64-bit PNG (or a 16-bit TIFF) opens as plain RGB/RGBA/LA; only the raw mode its
    # decoder will unpack from ("RGB;16B") or the TIFF's own tag says the samples are 16-bit.
    for tile in im.tile:
        rawmode = tile.args[0] if isinstance(tile.args, tuple) and tile.args else tile.args
        if isinstance(rawmode, str) and ";16" in rawmode:
            return 16
    tags = getattr(im, "tag_v2", None)
    if tags is not None and max(_ints(tags.get(258)), default=8) == 16:
        return 16
    return 8


def _orientation(im: ImageFile.ImageFile, fmt: str) -> int:
    # Pillow's TIFF reader turns the pixels upright itself (and reports the upright size), so
    # what the app decodes needs no turning, whatever the tag says.
    if fmt == "tiff":
        return 1
    # PngImageFile.getexif() decodes the whole image when no eXIf chunk precedes the pixels.
    if fmt not in ("jpeg", "webp") and "exif" not in im.info:
        return 1
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except HEADER_ERRORS:
        # Damaged EXIF costs only the orientation; the pixels may well be fine.
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _data_end(im: ImageFile.ImageFile, fmt: str) -> int | None:
    """Where the pixel data ends by the header's account (uncompressed BMP, any TIFF)."""
    if fmt == "tiff":
        tags = getattr(im, "tag_v2", None)
        if tags is None:
            return None
        for offsets_tag, counts_tag in ((273, 279), (324, 325)):  # strips, then tiles
            pairs = zip(_ints(tags.get(offsets_tag)), _ints(tags.get(counts_tag)), strict=False)
            ends = [offset + count for offset, count in pairs]
            if ends:
                return max(ends)
        return None
    if fmt == "bmp" and len(im.tile) == 1:
        tile = im.tile[0]
        args = tile.args
        if tile.codec_name != "raw" or not isinstance(args, tuple) or len(args) < 2:
            return None
        stride = args[1]
        if not isinstance(stride, int) or stride <= 0 or tile.extents is None:
            return None
        return tile.offset + stride * (tile.extents[3] - tile.extents[1])
    return None


# --------------------------------------------------------------------------------------------
# Noticing files cut short, from their structure alone


def _cut_short(fmt: str, contents: _Contents, data_end: int | None) -> str | None:
    """Why the file ends before its image does, or ``None`` when nothing says so."""
    if data_end is not None and data_end > contents.size:
        return (
            f"the header places image data up to byte {data_end:,}; the file has {contents.size:,}"
        )
    if fmt == "jpeg":
        return _jpeg_cut(contents)
    if fmt == "png":
        if contents.tail.rfind(_PNG_END) < 0:
            return "the PNG has no end chunk (IEND)"
        return None
    if fmt == "gif":
        return _gif_cut(contents)
    if fmt == "webp":
        declared = int.from_bytes(contents.head[4:8], "little") + 8
        if declared > contents.size:
            return f"the WebP declares {declared:,} bytes; the file has {contents.size:,}"
    return None


def _jpeg_scan_start(data: bytes) -> int | None:
    """Where the first scan (SOS) begins, walking markers as Pillow does; ``None`` if absent."""
    pos = 2
    n = len(data)
    while pos + 1 < n:
        if data[pos] != 0xFF:
            pos = data.find(b"\xff", pos)  # junk between segments, skipped like Pillow does
            if pos < 0:
                return None
            continue
        marker = data[pos + 1]
        if marker == 0xDA:
            return pos
        if marker == 0xFF:
            pos += 1
        elif marker in (0x00, 0x01) or 0xD0 <= marker <= 0xD9:
            pos += 2
        else:
            if pos + 4 > n:
                return None
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return None


def _jpeg_cut(contents: _Contents) -> str | None:
    # EXIF thumbnails carry their own end marker, so only one after the main scan counts;
    # scan data cannot contain FF D9 (an FF in it is always followed by 00 or a restart).
    scan = _jpeg_scan_start(contents.head)
    if scan is None and contents.whole:
        return "the JPEG ends before its image data starts"
    end = contents.tail.rfind(_JPEG_EOI)
    if end < 0 or (scan is not None and contents.tail_start + end < scan):
        return "the JPEG has no end marker (FF D9) after its image data"
    return None


def _colour_table_bytes(flags: int) -> int:
    return 3 * (2 << (flags & 7)) if flags & 0x80 else 0


def _gif_cut(contents: _Contents) -> str | None:
    """Walk the GIF's blocks without decoding them; say so when the file ends inside one.

    A GIF that stops cleanly between blocks without its final ';' is not called cut: every
    reader shows it whole.
    """
    if not contents.whole:
        return None
    data = contents.tail
    n = len(data)
    cut = "the GIF ends in the middle of a block"
    if n < 13:
        return cut
    pos = 13 + _colour_table_bytes(data[10])
    while pos < n:
        block = data[pos]
        if block == 0x3B:  # trailer
            return None
        if block == 0x21:  # extension: introducer, label, then sub-blocks
            pos += 2
        elif block == 0x2C:  # image: descriptor, colour table, LZW code size, then sub-blocks
            if pos + 10 > n:
                return cut
            pos += 10 + _colour_table_bytes(data[pos + 9]) + 1
        else:
            # Padding or junk after the last image: readers stop here with nothing missing.
            return None
        while True:
            if pos >= n:
                return cut
            length = data[pos]
            pos += 1 + length
            if length == 0:
                break
    return cut if pos > n else None


# --------------------------------------------------------------------------------------------
# Headers too large to hand to Pillow at all


def _webp_canvas(head: bytes) -> tuple[int, int, bool] | None:
    """Width, height and alpha from a WebP's first chunk, as Pillow reads them."""
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:
        width = 1 + int.from_bytes(head[24:27], "little")
        height = 1 + int.from_bytes(head[27:30], "little")
        return width, height, bool(head[20] & 0x10)
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool(bits >> 28 & 1)
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        width = int.from_bytes(head[26:28], "little") & 0x3FFF
        height = int.from_bytes(head[28:30], "little") & 0x3FFF
        return width, height, False
    return None


_PNG_COLOUR_MODES: Final = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}


@dataclass(frozen=True, slots=True)
class _Declared:
    """What a header declares, for files judged without Pillow."""

    width: int
    height: int
    mode: str
    bits: int = 8

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _ico_largest_picture(head: bytes) -> _Declared | None:
    """The largest picture inside an icon, as its own header declares it.

    The icon directory says at most 256 x 256, but each picture is a PNG or a BMP with a header
    of its own, and that header is what a decoder believes.
    """
    largest: _Declared | None = None
    for index in range(int.from_bytes(head[4:6], "little")):
        entry = head[6 + 16 * index : 22 + 16 * index]
        if len(entry) < 16:
            break
        offset = int.from_bytes(entry[12:16], "little")
        picture = head[offset : offset + 26]
        if picture.startswith(b"\x89PNG\r\n\x1a\n") and len(picture) >= 26:
            declared = _Declared(
                width=int.from_bytes(picture[16:20], "big"),
                height=int.from_bytes(picture[20:24], "big"),
                mode=_PNG_COLOUR_MODES.get(picture[25], "RGBA"),
                bits=16 if picture[24] == 16 else 8,
            )
        elif len(picture) >= 12:
            # A BMP picture counts its height twice (colours, then the transparency mask),
            # and Pillow hands it out as RGBA.
            declared = _Declared(
                width=abs(int.from_bytes(picture[4:8], "little", signed=True)),
                height=abs(int.from_bytes(picture[8:12], "little", signed=True)) // 2,
                mode="RGBA",
            )
        else:
            continue
        if largest is None or declared.pixels > largest.pixels:
            largest = declared
    return largest


def _declared_bomb(read: Probe, contents: _Contents, sniffed: str | None) -> Probe | None:
    """The probe of a file too large to hand to Pillow, from its header alone.

    Most Pillow readers are lazy, but libwebp allocates a WebP's whole canvas when Pillow opens
    it, and Pillow decodes an icon's picture while opening it. A WebP beyond the bomb limit, or
    an icon with a picture beyond :data:`_ICO_OPEN_PIXELS`, is described from its header; the
    rules then refuse or convert it like any other image.
    """
    declared: _Declared | None = None
    if sniffed == "webp":
        canvas = _webp_canvas(contents.head)
        if canvas is not None and canvas[0] * canvas[1] > DECOMPRESSION_BOMB_PIXELS:
            width, height, alpha = canvas
            declared = _Declared(width, height, "RGBA" if alpha else "RGB")
    elif sniffed == "ico":
        picture = _ico_largest_picture(contents.head)
        if picture is not None and picture.pixels > _ICO_OPEN_PIXELS:
            declared = picture
    if declared is None or sniffed is None:
        return None
    probe = replace(
        read,
        format=sniffed,
        width=declared.width,
        height=declared.height,
        mode=declared.mode,
        bits=declared.bits,
        has_alpha=declared.mode in _ALPHA_MODES,
    )
    cut = _cut_short(sniffed, contents, None)
    return replace(probe, error=ProbeError.TRUNCATED, error_detail=cut) if cut else probe


# --------------------------------------------------------------------------------------------
# Walking folders


@dataclass(frozen=True, slots=True)
class Skipped:
    """A path the walk left out, and why, in plain words."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class CollectResult:
    """The files to probe (in walking order) and what was left out."""

    files: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _sniff_file(path: str) -> str | None:
    with _open_regular(path) as file:
        return sniff_format(file.read(_SNIFF_BYTES))


class _Walk:
    """One collection: the files kept so far, what was skipped, and what was already seen."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.skipped: list[Skipped] = []
        self._kept: set[str] = set()
        self._folders: set[tuple[int, int]] = set()

    def add(self, path: str) -> None:
        """Take a path the user named: walk it if it is a folder, else keep it as it is."""
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            info = None
        if info is not None and stat.S_ISDIR(info.st_mode):
            self._walk(path, info)
        else:
            # Named files are kept whatever they are: the probe says what is wrong with them.
            self._keep(path)

    def _keep(self, path: str) -> None:
        key = os.path.normcase(os.path.abspath(path))
        if key not in self._kept:
            self._kept.add(key)
            self.files.append(path)

    def _skip(self, path: str, reason: str) -> None:
        self.skipped.append(Skipped(path, reason))

    def _walk(self, top: str, info: os.stat_result) -> None:
        # An explicit stack: a deep tree must not hit the recursion limit.
        stack = [(top, info)]
        while stack:
            folder, folder_info = stack.pop()
            identity = (folder_info.st_dev, folder_info.st_ino)
            if identity in self._folders:
                # A link back up the tree, or a folder named twice: walking it again would
                # loop or list its files twice.
                self._skip(folder, "folder already walked")
                continue
            self._folders.add(identity)
            subfolders = self._list(folder)
            stack.extend(reversed(subfolders))

    def _list(self, folder: str) -> list[tuple[str, os.stat_result]]:
        """Keep or skip the files of *folder*; return its subfolders, both in name order."""
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            self._skip(folder, f"folder cannot be read ({_os_detail(exc)})")
            return []
        subfolders: list[tuple[str, os.stat_result]] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:  # a link loop, for one
                is_dir = is_file = False
            if entry.name.startswith("."):
                self._skip(entry.path, "hidden folder" if is_dir else "hidden file")
            elif is_dir:
                try:
                    subfolders.append((entry.path, entry.stat()))
                except OSError as exc:
                    self._skip(entry.path, f"folder cannot be read ({_os_detail(exc)})")
            elif is_file:
                self._file(entry.path, entry.name)
            elif entry.is_symlink():
                if extension_of(entry.name) in IMAGE_EXTENSIONS:
                    self._keep(entry.path)  # the probe reports the broken link as missing
                else:
                    self._skip(entry.path, "broken link")
            else:
                self._skip(entry.path, "not a regular file")
        return subfolders

    def _file(self, path: str, name: str) -> None:
        if extension_of(name) in IMAGE_EXTENSIONS:
            self._keep(path)
            return
        try:
            sniffed = _sniff_file(path)
        except OSError as exc:
            self._skip(path, f"cannot be read ({_os_detail(exc)})")
            return
        if sniffed is None:
            self._skip(path, "not an image")
        else:
            self._keep(path)


def collect_paths(paths: Iterable[AnyPath]) -> CollectResult:
    """The files to probe under *paths* (files and folders), and what was left out and why.

    Folders are walked recursively in name order (a folder's files before its subfolders),
    following links to folders but never into a folder already walked. Inside folders, hidden
    entries (names starting with '.') are skipped, and so are files that neither have an image
    extension nor start like an image. Paths named directly are always kept, even missing or
    non-image ones, so the probe can say what is wrong with them. A file named twice is kept
    once.
    """
    walk = _Walk()
    for path in paths:
        walk.add(os.fsdecode(path))
    return CollectResult(walk.files, walk.skipped)


# --------------------------------------------------------------------------------------------
# Probing many files


def default_probe_workers() -> int:
    """How many threads :func:`probe_many` uses unless told otherwise."""
    return min(8, 2 * (os.cpu_count() or 1))


def probe_many(
    paths: Iterable[AnyPath], max_workers: int | None = None
) -> Generator[Probe, None, None]:
    """Probe *paths* on a thread pool, yielding the probes in the order of *paths*.

    At most four times *max_workers* files are in flight at once, so a huge list never holds
    more than that many results (or file buffers) at a time. Closing the generator early
    (``close()``, or dropping it) cancels the files not yet started and waits for the few
    already running.
    """
    workers = default_probe_workers() if max_workers is None else max_workers
    if workers < 1:
        raise ValueError(f"max_workers must be at least 1, not {workers}")
    window = 4 * workers
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe")
    pending: deque[Future[Probe]] = deque()
    try:
        for path in paths:
            pending.append(pool.submit(probe_file, path))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def probe_all(paths: Iterable[AnyPath], max_workers: int | None = None) -> list[Probe]:
    """Every probe of :func:`probe_many`, as a list in the order of *paths*."""
    return list(probe_many(paths, max_workers))
