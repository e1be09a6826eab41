"""Make the sample images that show each image rule, from the real photos in this folder.

Embed Studio opens on this folder at first start, and ``embed-studio check resources/samples``
walks through it. The real photos and graphics here are byte-for-byte copies of images that ship
inside the scikit-image wheel (see ``LICENSES.md`` for each one's origin and licence). This script
derives the rule samples from them, so that every rule the app reports has a file that shows it:

=====================================  ======================================================
file written                           rule it shows (code)
=====================================  ======================================================
``rotated-by-camera.jpg``              ``exif-rotated``: pixels stored sideways, EXIF orientation 6
``handwriting-saved-as.bmp``           ``format-converted``: a BMP, which the API does not take
``astronaut-png-with-jpg-name.jpg``    ``extension-mismatch``: a PNG file named ``.jpg``
``tiny-icon.png``                      ``upsampled-by-server``: 40 x 40 px, below 56 x 56
``animated-rocket.gif``                ``animated``: a GIF with 4 frames
``coffee-cmyk-for-print.jpg``          ``color-converted``: a CMYK JPEG
``cell-16-bit-microscope.png``         ``color-converted``: a 16-bit greyscale PNG
``coffee-cup-large-2700x1800.jpg``     ``downsampled``: 4,860,000 px, above 2,458,624 px
``horse-cutout-transparent.png``       none: an RGBA PNG with a transparent background
``horse-silhouette-copy.png``          ``duplicate``: the same bytes as ``horse-silhouette.png``
=====================================  ======================================================

No sample is broken on purpose: every file opens cleanly.

Run it from anywhere with the project's Python (it needs Pillow and nothing else)::

    python resources/samples/make_rule_samples.py

It reads only the originals next to it and overwrites only the files above, each written
atomically. The output is deterministic for a given Pillow build (no random numbers, no dates,
no metadata beyond what each rule needs). After writing, it reopens every file and checks that it
shows what it is meant to show, and prints one line per file.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageChops, ImageOps, ImageStat

HERE = Path(__file__).resolve().parent

# The rule thresholds, restated here so the script needs nothing but Pillow.
MAX_PIXELS = 2_458_624  # above this the API downsamples (rule `downsampled`)
MIN_PIXELS = 3_136  # below this (56 x 56) the API upsamples (rule `upsampled-by-server`)
EXIF_ORIENTATION_TAG = 0x0112
ROTATED_90_CLOCKWISE = 6  # EXIF orientation 6: turn the stored pixels 90 degrees clockwise to view
LARGE_SIZE = (2700, 1800)  # the 3:2 coffee photo scaled up 4.5 times
LARGE_MAX_BYTES = 2_000_000
TINY_SIZE = (40, 40)
GIF_FRAME_COUNT = 4
GIF_FRAME_SIDE = 240


def open_original(name: str) -> Image.Image:
    """Open one of the real images in this folder and load its pixels."""
    with Image.open(HERE / name) as image:
        image.load()
        return image.copy()


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    """Encode ``image`` in memory, so a file is only ever written whole."""
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def write_atomically(name: str, data: bytes) -> Path:
    """Write ``data`` to ``name`` in this folder via a temporary file and ``os.replace``."""
    target = HERE / name
    handle, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=HERE)
    try:
        with os.fdopen(handle, "wb") as temp_file:
            temp_file.write(data)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    """Mean absolute difference of two same-size images over RGB channels (0 to 255)."""
    difference = ImageChops.difference(first.convert("RGB"), second.convert("RGB"))
    return sum(ImageStat.Stat(difference).mean) / 3


def horse_on_white() -> Image.Image:
    """The horse silhouette flattened onto white, in RGB."""
    horse = open_original("horse-silhouette.png").convert("RGBA")
    background = Image.new("RGBA", horse.size, (255, 255, 255, 255))
    background.alpha_composite(horse)
    return background.convert("RGB")


def make_rotated_by_camera() -> bytes:
    """The cat photo stored sideways, with EXIF orientation 6 saying how to turn it upright."""
    upright = open_original("cat-chelsea.png").convert("RGB")
    # A camera held sideways stores the scene turned 90 degrees counter-clockwise and records
    # orientation 6; a viewer then turns it 90 degrees clockwise to show it upright.
    stored_sideways = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = ROTATED_90_CLOCKWISE
    return encode(stored_sideways, "JPEG", quality=90, exif=exif.tobytes())


def make_bmp() -> bytes:
    """The handwriting photo saved as an 8-bit greyscale BMP, as old scanners do."""
    return encode(open_original("handwriting-on-board.png").convert("L"), "BMP")


def make_png_named_jpg() -> bytes:
    """The astronaut photo at half size, encoded as PNG (it is written under a .jpg name)."""
    astronaut = open_original("astronaut-eileen-collins.png").convert("RGB")
    half = (astronaut.width // 2, astronaut.height // 2)
    return encode(astronaut.resize(half, Image.Resampling.LANCZOS), "PNG", optimize=True)


def make_tiny_icon() -> bytes:
    """The horse silhouette shrunk to a 40 x 40 icon (padded to a square first)."""
    icon = ImageOps.pad(horse_on_white(), TINY_SIZE, Image.Resampling.LANCZOS, color="white")
    return encode(icon, "PNG", optimize=True)


def make_animated_gif() -> bytes:
    """Four frames that tilt up the rocket launch photo, bottom to top, looping."""
    rocket = open_original("rocket-launch-pad.jpg").convert("RGB")
    left = (rocket.width - GIF_FRAME_SIDE) // 2
    lowest_top = rocket.height - GIF_FRAME_SIDE
    frames = []
    for index in range(GIF_FRAME_COUNT):
        top = lowest_top - lowest_top * index // (GIF_FRAME_COUNT - 1)
        frames.append(rocket.crop((left, top, left + GIF_FRAME_SIDE, top + GIF_FRAME_SIDE)))
    # One shared palette keeps the colours steady between frames and the file small.
    palette = frames[0].quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    indexed = [frame.quantize(palette=palette) for frame in frames]
    return encode(indexed[0], "GIF", save_all=True, append_images=indexed[1:], duration=500, loop=0)


def make_cmyk_jpeg() -> bytes:
    """The coffee photo converted to CMYK, as files prepared for print often are."""
    coffee = open_original("coffee-cup.png").convert("RGB")
    return encode(coffee.convert("CMYK"), "JPEG", quality=90)


def make_16_bit_png() -> bytes:
    """The cell micrograph widened to 16 bits per pixel (0..255 to 0..65535), as labs save them."""
    cell = open_original("cell-under-microscope.png").convert("L")
    widened = cell.convert("I").point(lambda value: value * 257).convert("I;16")
    return encode(widened, "PNG")


def make_large_photo() -> bytes:
    """The coffee photo scaled up to 2700 x 1800 px (4.86 megapixels), JPEG quality 85."""
    coffee = open_original("coffee-cup.png").convert("RGB")
    large = coffee.resize(LARGE_SIZE, Image.Resampling.LANCZOS)
    return encode(large, "JPEG", quality=85, optimize=True)


def make_transparent_png() -> bytes:
    """The horse as a black cut-out: opaque where the drawing is dark, clear where it is white."""
    grey = horse_on_white().convert("L")
    cutout = Image.new("RGBA", grey.size, (0, 0, 0, 0))
    cutout.putalpha(ImageOps.invert(grey))
    return encode(cutout, "PNG", optimize=True)


def make_duplicate() -> bytes:
    """An exact copy of the horse silhouette's bytes, as when a file is saved twice."""
    return (HERE / "horse-silhouette.png").read_bytes()


def reopen(path: Path) -> tuple[str, Image.Image]:
    """Open a written sample and decode it, as the app would: its format and its pixels."""
    with Image.open(path) as image:
        image.load()
        return str(image.format), image.copy()


def require(condition: bool, what: str) -> None:
    """Stop with a plain message when a sample does not show what it should."""
    if not condition:
        raise SystemExit(f"sample check failed: {what}")


def check_rotated(path: Path) -> None:
    """Stored sideways, tagged 6, and upright again once the tag is applied."""
    _, stored = reopen(path)
    original = open_original("cat-chelsea.png")
    require(
        stored.getexif().get(EXIF_ORIENTATION_TAG) == ROTATED_90_CLOCKWISE,
        f"{path.name} lacks EXIF orientation 6",
    )
    require(stored.size == (original.height, original.width), f"{path.name} is not sideways")
    upright = ImageOps.exif_transpose(stored)
    require(
        upright.size == original.size and mean_difference(upright, original) < 4,
        f"orientation 6 does not turn {path.name} upright",
    )


def check_bmp(path: Path) -> None:
    """A real BMP."""
    image_format, _ = reopen(path)
    require(image_format == "BMP", f"{path.name} is {image_format}, not BMP")


def check_png_named_jpg(path: Path) -> None:
    """PNG content behind a .jpg name."""
    image_format, _ = reopen(path)
    require(path.suffix == ".jpg", f"{path.name} is not named .jpg")
    require(image_format == "PNG", f"{path.name} is {image_format}, not PNG")


def check_tiny(path: Path) -> None:
    """Fewer pixels than the API's minimum."""
    _, image = reopen(path)
    require(image.size == TINY_SIZE, f"{path.name} is {image.size}, not {TINY_SIZE}")
    require(image.width * image.height < MIN_PIXELS, f"{path.name} is not below {MIN_PIXELS} px")


def check_animated(path: Path) -> None:
    """Several frames that really differ."""
    with Image.open(path) as image:
        image_format, frame_count = image.format, getattr(image, "n_frames", 1)
        image.seek(0)
        first = image.convert("RGB")
        image.seek(frame_count - 1)
        last = image.convert("RGB")
    require(image_format == "GIF", f"{path.name} is {image_format}, not GIF")
    require(frame_count == GIF_FRAME_COUNT, f"{path.name} has {frame_count} frames")
    require(mean_difference(first, last) > 5, f"the frames of {path.name} look the same")


def check_cmyk(path: Path) -> None:
    """A CMYK JPEG whose colours still match the photo."""
    image_format, image = reopen(path)
    require((image_format, image.mode) == ("JPEG", "CMYK"), f"{path.name} is not a CMYK JPEG")
    require(
        mean_difference(image, open_original("coffee-cup.png")) < 4,
        f"{path.name} colours drifted from the photo",
    )


def check_16_bit(path: Path) -> None:
    """A PNG whose header says 16 bits per sample, using the full 16-bit range."""
    bit_depth = path.read_bytes()[24]  # 8-byte signature, 8-byte IHDR head, width, height, depth
    image_format, image = reopen(path)
    require((image_format, bit_depth) == ("PNG", 16), f"{path.name} is not a 16-bit PNG")
    require(image.mode == "I;16", f"{path.name} opens as {image.mode}, not I;16")
    require(image.getextrema() == (0, 65535), f"{path.name} does not span 0..65535")


def check_large(path: Path) -> None:
    """More pixels than the API keeps, yet a modest file."""
    _, image = reopen(path)
    require(image.size == LARGE_SIZE, f"{path.name} is {image.size}, not {LARGE_SIZE}")
    require(image.width * image.height > MAX_PIXELS, f"{path.name} is not above {MAX_PIXELS} px")
    require(path.stat().st_size < LARGE_MAX_BYTES, f"{path.name} is not under 2 MB")


def check_transparent(path: Path) -> None:
    """An RGBA PNG with both fully clear and fully opaque pixels."""
    image_format, image = reopen(path)
    require((image_format, image.mode) == ("PNG", "RGBA"), f"{path.name} is not an RGBA PNG")
    require(
        image.getchannel("A").getextrema() == (0, 255),
        f"{path.name} lacks clear or opaque pixels",
    )


def check_duplicate(path: Path) -> None:
    """Byte-for-byte the same as the original."""
    require(
        path.read_bytes() == (HERE / "horse-silhouette.png").read_bytes(),
        f"{path.name} differs from horse-silhouette.png",
    )


SAMPLES: tuple[tuple[str, Callable[[], bytes], Callable[[Path], None]], ...] = (
    ("rotated-by-camera.jpg", make_rotated_by_camera, check_rotated),
    ("handwriting-saved-as.bmp", make_bmp, check_bmp),
    ("astronaut-png-with-jpg-name.jpg", make_png_named_jpg, check_png_named_jpg),
    ("tiny-icon.png", make_tiny_icon, check_tiny),
    ("animated-rocket.gif", make_animated_gif, check_animated),
    ("coffee-cmyk-for-print.jpg", make_cmyk_jpeg, check_cmyk),
    ("cell-16-bit-microscope.png", make_16_bit_png, check_16_bit),
    ("coffee-cup-large-2700x1800.jpg", make_large_photo, check_large),
    ("horse-cutout-transparent.png", make_transparent_png, check_transparent),
    ("horse-silhouette-copy.png", make_duplicate, check_duplicate),
)


def main() -> int:
    """Write every rule sample, check it, and print what was written."""
    for name, make, check in SAMPLES:
        path = write_atomically(name, make())
        check(path)
        with Image.open(path) as image:
            frames = getattr(image, "n_frames", 1)
            facts = f"{image.format} {image.mode} {image.width}x{image.height} frames={frames}"
        print(f"{name:34} {path.stat().st_size:>9,} bytes  {facts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
