"""Decoded pixels on their way to the wire: colour modes, orientation, resizing and encoding.

Two holders share one small interface, :class:`Raster`:

* :class:`YuvRaster` keeps a JPEG's own Y, Cb and Cr planes. A JPEG photo is shrunk and
  re-encoded without ever being turned into RGB and back: the luma plane is resized with a
  bicubic filter, the chroma planes straight to the 4:2:0 size the encoder wants, and
  ``simplejpeg`` encodes the planes as they are. That cuts the resize work by about a third
  (the chroma planes shrink straight to a quarter of the pixels) and skips two colour
  conversions: about 15% less time per 12 MP photo than the same steps in RGB, with PSNR
  within 0.1 dB of them (``tests/bench/bench_prepare.py --candidates``).
* :class:`PilRaster` holds any Pillow image already brought to an 8-bit mode (``L``, ``RGB``,
  ``RGBA`` or a palette ``P`` without transparency).

Every encoder writes the pixels only: no EXIF, ICC, XMP, text chunks or timestamps, so the same
pixels always give the same bytes. Dropping the ICC profile means a wide-gamut source (Display
P3, Adobe RGB) is sent with its numbers read as sRGB; converting it would cost a colour transform
per image and is left to a later version.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt
import simplejpeg
from PIL import Image

#: How each EXIF orientation is undone (the same table as ``ImageOps.exif_transpose``).
ORIENTATION_TRANSPOSE: Final[dict[int, Image.Transpose]] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

#: Orientations that swap width and height.
SWAPPING_ORIENTATIONS: Final = frozenset({5, 6, 7, 8})

#: Luma (and RGB) resampling. After a DCT-scaled decode the factor left is below 2; there
#: bicubic came out closer to a full-resolution Lanczos reference than Lanczos itself did,
#: at two thirds of its cost (see the benchmark's ``--candidates``).
RESAMPLE: Final = Image.Resampling.BICUBIC
#: Chroma from the decoder is full size and shrinks by 2 or more (to 4:2:0): a 2 x 2 box
#: average first (``reducing_gap`` 1), then bicubic for the rest. Cheaper than one
#: antialiased pass from full size, and closer to the reference (0.3 dB) than bilinear was.
CHROMA_RESAMPLE: Final = Image.Resampling.BICUBIC
CHROMA_REDUCING_GAP: Final = 1.0
#: Shrinks larger than this factor first reduce by whole pixels (box), then filter the rest.
REDUCING_GAP: Final = 3.0
#: A graphic (sent as PNG, not JPEG) has at most this many colours in a sample of it ...
GRAPHIC_MAX_COLOURS: Final = 256
#: ... and in which this many most common colours cover at least GRAPHIC_TOP_SHARE of it.
GRAPHIC_TOP_COLOURS: Final = 8
GRAPHIC_TOP_SHARE: Final = 0.5
#: The side of the nearest-neighbour sample those counts are taken on.
GRAPHIC_SAMPLE_SIDE: Final = 128

_GRAPHIC_SAMPLE_PIXELS: Final = GRAPHIC_SAMPLE_SIDE * GRAPHIC_SAMPLE_SIDE

Size = tuple[int, int]
Box = tuple[float, float, float, float]


class Raster(Protocol):
    """Pixels that can be turned upright, resized and encoded."""

    @property
    def size(self) -> Size:
        """Width and height in pixels."""
        ...

    @property
    def has_alpha(self) -> bool:
        """Whether the pixels carry transparency (which JPEG cannot)."""
        ...

    def transposed(self, orientation: int) -> Raster:
        """These pixels with EXIF *orientation* undone."""
        ...

    def resized(self, size: Size) -> Raster:
        """These pixels resampled to *size*."""
        ...

    def jpeg(self, quality: int) -> bytes:
        """Baseline JPEG bytes at *quality*, 4:2:0 chroma (grey stays grey)."""
        ...


def upright_size(size: Size, orientation: int) -> Size:
    """The size of an image of stored *size* once EXIF *orientation* is applied."""
    return (size[1], size[0]) if orientation in SWAPPING_ORIENTATIONS else size


def _chroma_size(size: Size) -> Size:
    return (size[0] + 1) // 2, (size[1] + 1) // 2


def _as_uint8(array: npt.NDArray[np.generic]) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8))


def _contiguous(image: Image.Image) -> npt.NDArray[np.uint8]:
    return np.ascontiguousarray(np.asarray(image), dtype=np.uint8)


class YuvRaster:
    """The Y, Cb and Cr planes of a JPEG photo (``cb``/``cr`` are ``None`` for grey).

    Chroma planes may be any size; ``box`` is the region of the luma plane the picture
    covers (a DCT-scaled decode rounds its size up, so the picture can end inside the last
    pixel), and ``chroma_box`` the same region in chroma pixels.
    """

    __slots__ = ("box", "cb", "chroma_box", "cr", "y")

    def __init__(
        self,
        y: Image.Image,
        cb: Image.Image | None = None,
        cr: Image.Image | None = None,
        box: Box | None = None,
    ) -> None:
        self.y = y
        self.cb = cb
        self.cr = cr
        self.box: Box = box or (0.0, 0.0, float(y.width), float(y.height))
        if cb is None:
            self.chroma_box = self.box
        else:
            # A chroma plane is either full size (as the decoder upsampled it) or subsampled by
            # 2, each sample then covering 2 luma pixels even past an odd edge.
            sub_x = max(1, round(y.width / cb.width))
            sub_y = max(1, round(y.height / cb.height))
            x0, y0, x1, y1 = self.box
            self.chroma_box = (x0 / sub_x, y0 / sub_y, x1 / sub_x, y1 / sub_y)

    @classmethod
    def from_jpeg_image(cls, image: Image.Image, box: Box | None = None) -> YuvRaster:
        """Planes of a loaded Pillow JPEG image in mode ``YCbCr`` or ``L``."""
        if image.mode == "L":
            return cls(image, box=box)
        y, cb, cr = image.split()
        return cls(y, cb, cr, box)

    @property
    def size(self) -> Size:
        """Width and height of the luma plane."""
        return self.y.size

    @property
    def has_alpha(self) -> bool:
        """JPEG planes never carry transparency."""
        return False

    def transposed(self, orientation: int) -> YuvRaster:
        """Each plane turned; planes are first brought to their exact 4:2:0 size."""
        method = ORIENTATION_TRANSPOSE.get(orientation)
        if method is None:
            return self
        exact = self.resized(self.size)
        if exact.cb is None or exact.cr is None:
            return YuvRaster(exact.y.transpose(method))
        return YuvRaster(
            exact.y.transpose(method), exact.cb.transpose(method), exact.cr.transpose(method)
        )

    def resized(self, size: Size) -> YuvRaster:
        """Luma resampled to *size*, chroma to the matching 4:2:0 size."""
        full = (0.0, 0.0, float(self.y.width), float(self.y.height))
        y = self.y
        if y.size != size or self.box != full:
            y = y.resize(size, RESAMPLE, box=self.box, reducing_gap=REDUCING_GAP)
        if self.cb is None or self.cr is None:
            return YuvRaster(y)
        csize = _chroma_size(size)
        # The last chroma sample of an odd size covers one luma column past the picture, so
        # the source box is stretched by the same fraction (and clamped to the plane).
        x0, y0, x1, y1 = self.chroma_box
        bx1 = min(float(self.cb.width), x0 + (x1 - x0) * 2 * csize[0] / size[0])
        by1 = min(float(self.cb.height), y0 + (y1 - y0) * 2 * csize[1] / size[1])
        box = (x0, y0, bx1, by1)
        if self.cb.size == csize and box == (0.0, 0.0, float(csize[0]), float(csize[1])):
            return YuvRaster(y, self.cb, self.cr)
        cb = self.cb.resize(csize, CHROMA_RESAMPLE, box=box, reducing_gap=CHROMA_REDUCING_GAP)
        cr = self.cr.resize(csize, CHROMA_RESAMPLE, box=box, reducing_gap=CHROMA_REDUCING_GAP)
        return YuvRaster(y, cb, cr)

    def jpeg(self, quality: int) -> bytes:
        """The planes encoded as they are (no colour conversion), chroma at 4:2:0."""
        exact = self.resized(self.size)
        y = _contiguous(exact.y)
        if exact.cb is None or exact.cr is None:
            return bytes(simplejpeg.encode_jpeg_yuv_planes(y, None, None, quality=quality))
        cb, cr = _contiguous(exact.cb), _contiguous(exact.cr)
        return bytes(simplejpeg.encode_jpeg_yuv_planes(_even_padded(y), cb, cr, quality=quality))


def _even_padded(plane: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """*plane* as a view into a buffer one edge row and column larger where a side is odd.

    For 4:2:0 TurboJPEG reads the luma plane rounded up to even width and height, past the
    end of an odd-sized array: the output then depended on whatever memory followed, so the
    same pixels did not always give the same bytes. Repeating the edge is what the encoder
    would do itself.
    """
    height, width = plane.shape
    if height % 2 == 0 and width % 2 == 0:
        return plane
    padded = np.empty((height + height % 2, width + width % 2), np.uint8)
    padded[:height, :width] = plane
    padded[height:, :width] = plane[height - 1 :]
    padded[:, width:] = padded[:, width - 1 : width]
    return padded[:height, :width]


class PilRaster:
    """A Pillow image in ``L``, ``RGB``, ``RGBA`` or ``P`` (a palette without transparency)."""

    __slots__ = ("image",)

    def __init__(self, image: Image.Image) -> None:
        # Metadata (EXIF, ICC, text, gamma ...) rides in ``info`` into some encoders: drop it.
        image.info = {}
        self.image = image

    @property
    def size(self) -> Size:
        """Width and height in pixels."""
        return self.image.size

    @property
    def has_alpha(self) -> bool:
        """Whether the image is ``RGBA``."""
        return self.image.mode == "RGBA"

    def transposed(self, orientation: int) -> PilRaster:
        """The image turned upright."""
        method = ORIENTATION_TRANSPOSE.get(orientation)
        return self if method is None else PilRaster(self.image.transpose(method))

    def resized(self, size: Size) -> PilRaster:
        """The image resampled to *size* (a palette image is first expanded to RGB)."""
        if size == self.size:
            return self
        image = self.image.convert("RGB") if self.image.mode == "P" else self.image
        return PilRaster(image.resize(size, RESAMPLE, reducing_gap=REDUCING_GAP))

    def jpeg(self, quality: int) -> bytes:
        """JPEG via simplejpeg (it releases the GIL; Pillow's encode to memory does not)."""
        image = self.image
        if image.mode == "L":
            pixels = _contiguous(image)[:, :, np.newaxis]
            return bytes(
                simplejpeg.encode_jpeg(
                    pixels, quality=quality, colorspace="GRAY", colorsubsampling="Gray"
                )
            )
        if image.mode != "RGB":
            image = image.convert("RGB")
        return bytes(
            simplejpeg.encode_jpeg(
                _contiguous(image), quality=quality, colorspace="RGB", colorsubsampling="420"
            )
        )

    def png(self, *, optimize: bool = False) -> bytes:
        """PNG bytes, zlib level 6 (or Pillow's ``optimize``: level 9 and more effort)."""
        out = io.BytesIO()
        if optimize:
            self.image.save(out, "PNG", optimize=True)
        else:
            self.image.save(out, "PNG", compress_level=6)
        return out.getvalue()

    def looks_like_graphic(self) -> bool:
        """Whether the image is flat art (a drawing, chart or screenshot), not a photo.

        The test, on a nearest-neighbour sample of at most :data:`GRAPHIC_SAMPLE_SIDE` squared
        pixels (nearest-neighbour keeps colours exact): at most :data:`GRAPHIC_MAX_COLOURS`
        distinct colours, and the :data:`GRAPHIC_TOP_COLOURS` most common of them cover at
        least :data:`GRAPHIC_TOP_SHARE` of the sample. A colour photo fails the first part
        (hundreds of colours in any sample); a grey photo, which can never have more than 256,
        fails the second (no few shades dominate it), while flat backgrounds make art pass it.
        """
        image = self.image
        if image.mode == "P":
            return True
        if image.width * image.height > _GRAPHIC_SAMPLE_PIXELS:
            sample_size = (
                min(image.width, GRAPHIC_SAMPLE_SIDE),
                min(image.height, GRAPHIC_SAMPLE_SIDE),
            )
            image = image.resize(sample_size, Image.Resampling.NEAREST)
        colours = image.getcolors(GRAPHIC_MAX_COLOURS)
        if colours is None:
            return False
        counts = sorted((count for count, _colour in colours), reverse=True)
        return sum(counts[:GRAPHIC_TOP_COLOURS]) >= GRAPHIC_TOP_SHARE * image.width * image.height


# --------------------------------------------------------------------------------------------
# Colour modes

_SIXTEEN_BIT_GREY: Final = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_TO_RGBA: Final = {"LA": "grey with transparency", "La": "grey with transparency"}
_TO_RGB: Final = {
    "CMYK": "CMYK",
    "YCbCr": "YCbCr",
    "LAB": "Lab colour",
    "HSV": "HSV colour",
    "RGBX": "RGBX",
}


def to_sendable_mode(
    image: Image.Image, bits: int = 8, keep_palette: bool = True
) -> tuple[Image.Image, str | None]:
    """*image* in an 8-bit mode a JPEG or PNG encoder takes, and what was done in words.

    Transparency becomes ``RGBA``, unless no pixel is actually transparent: then the alpha is
    dropped, so a photo saved with an unused alpha channel can still go as JPEG. 16-bit grey is
    shifted down (``>> 8``), never clipped; 32-bit integer and float grey are scaled into 0..255
    (see :func:`_scaled_grey`). A palette without transparency stays a palette when
    *keep_palette* (PNG keeps it small). ``1``-bit images become ``L`` without comment.

    Raises:
        ValueError: Pillow cannot convert the mode.
    """
    mode = image.mode
    transparent = "transparency" in image.info
    what: str | None = None  # the source's colour, in words, when it had to change
    if mode in _SIXTEEN_BIT_GREY:
        image, what = _sixteen_bit_grey(image), "16-bit grey"
    elif mode in ("I", "F"):
        image = _scaled_grey(image).convert("RGB")
        what = "32-bit integer grey" if mode == "I" else "floating-point grey"
    elif mode == "1":
        image = image.convert("L")
    elif mode in ("P", "PA"):
        palette_alpha = image.palette is not None and "A" in image.palette.mode
        if transparent or mode == "PA" or palette_alpha:
            image, what = image.convert("RGBA"), "a palette with transparency"
        elif not keep_palette:
            image = image.convert("RGB")
    elif mode in _TO_RGBA:
        image, what = image.convert("RGBA"), _TO_RGBA[mode]
    elif mode == "RGBa":
        image = image.convert("RGBA")
    elif mode in _TO_RGB:
        image, what = image.convert("RGB"), _TO_RGB[mode]
    elif mode in ("L", "RGB") and transparent:
        image = image.convert("RGBA")
    elif mode not in ("L", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        what = f"the colour mode {mode}"
    if what is None and bits > 8 and image.mode in ("RGB", "RGBA"):
        # Pillow reads 16-bit-per-channel PNG colour as the high byte of each sample already.
        what = "16-bit colour"
    unused_alpha = image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255)
    if unused_alpha:
        image = image.convert("RGB")
    if what is None:
        return image, ("dropped an alpha channel no pixel used" if unused_alpha else None)
    note = " (no pixel was transparent)" if unused_alpha and mode != "RGBA" else ""
    return image, f"converted {what} to 8-bit {image.mode}{note}"


def _sixteen_bit_grey(image: Image.Image) -> Image.Image:
    samples = np.asarray(image)
    grey = _as_uint8(samples >> 8)
    transparency = image.info.get("transparency")
    if isinstance(transparency, int):
        alpha = _as_uint8(np.where(samples == transparency, 0, 255))
        return Image.merge("RGBA", (grey, grey, grey, alpha))
    return grey.convert("RGB")


def _scaled_grey(image: Image.Image) -> Image.Image:
    """32-bit int or float grey as 8-bit: kept if already 0..255, 16-bit range shifted down,
    floats in 0..1 scaled by 255, anything else stretched from its own min..max."""
    samples = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(samples.min()), float(samples.max())) if samples.size else (0.0, 0.0)
    if image.mode == "F" and low >= 0.0 and high <= 1.0:
        scaled = samples * 255.0
    elif low >= 0.0 and high <= 255.0:
        scaled = samples
    elif image.mode == "I" and low >= 0.0 and high <= 65535.0:
        scaled = samples / 256.0
    elif high > low:
        scaled = (samples - low) * (255.0 / (high - low))
    else:
        scaled = np.zeros_like(samples)
    return _as_uint8(np.clip(np.rint(scaled), 0, 255))


# --------------------------------------------------------------------------------------------
# Sizes


def scaled_sizes(size: Size, start_factor: float, step: float = 0.85) -> Iterator[Size]:
    """Sizes ``step**k`` times *size* for k = 1, 2, ... while both sides stay at least 16 px.

    *start_factor* is a guess of how much smaller the image must get (the square root of the
    byte ratio); the steps start at the last one above that guess instead of at k = 1.
    """
    k = 1
    if 0 < start_factor < step:
        k = max(1, math.floor(math.log(start_factor) / math.log(step)))
    while True:
        factor = step**k
        w, h = round(size[0] * factor), round(size[1] * factor)
        if min(w, h) < 16:
            return
        yield w, h
        k += 1
