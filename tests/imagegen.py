"""Real images made by the tests: photo-like, graphic-like, and deliberately awkward ones.

Every function writes a real file with Pillow (no fixtures checked in) and returns its path.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

_EXIF_ORIENTATION = 0x0112


def photo_array(width: int, height: int, seed: int = 0) -> npt.NDArray[np.uint8]:
    """A photo-like RGB array: smooth gradients, soft shapes and a little sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    sx, sy = x / max(width - 1, 1), y / max(height - 1, 1)
    r = 90 + 120 * sx + 30 * np.sin(sy * 7 + seed)
    g = 60 + 140 * sy + 25 * np.cos(sx * 9 + seed)
    b = 160 - 80 * sx * sy + 20 * np.sin((sx + sy) * 11)
    img = np.stack([r, g, b], axis=-1)
    for _ in range(6):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        rad = rng.uniform(0.05, 0.25) * max(width, height)
        mask = np.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / (2 * rad**2)))[..., None]
        img = img * (1 - 0.6 * mask) + rng.uniform(0, 255, 3) * 0.6 * mask
    img += rng.normal(0, 6, img.shape)
    out: npt.NDArray[np.uint8] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like RGB image."""
    return Image.fromarray(photo_array(width, height, seed), "RGB")


def graphic(width: int, height: int, seed: int = 0, alpha: bool = False) -> Image.Image:
    """A flat-colour graphic (few colours, sharp edges), optionally with transparency."""
    rng = np.random.default_rng(seed)
    arr = np.full((height, width, 4), 255, np.uint8)
    for _ in range(8):
        x0, y0 = rng.integers(0, max(width - 1, 1)), rng.integers(0, max(height - 1, 1))
        x1, y1 = x0 + rng.integers(1, max(width // 2, 2)), y0 + rng.integers(1, max(height // 2, 2))
        arr[y0:y1, x0:x1, :3] = rng.integers(0, 255, 3)
    if alpha:
        arr[: height // 3, :, 3] = 0
    return Image.fromarray(arr if alpha else arr[..., :3], "RGBA" if alpha else "RGB")


def save(img: Image.Image, path: Path, fmt: str | None = None, **params: object) -> Path:
    """Save *img* to *path* (format from *fmt* or the extension) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt, **params)
    return path


def jpeg_with_orientation(path: Path, width: int, height: int, orientation: int) -> Path:
    """A JPEG whose EXIF says it must be rotated/flipped by *orientation* to stand upright."""
    exif = Image.Exif()
    exif[_EXIF_ORIENTATION] = orientation
    return save(photo(width, height), path, "JPEG", quality=90, exif=exif.tobytes())


def animated_gif(path: Path, width: int = 64, height: int = 48, frames: int = 3) -> Path:
    """An animated GIF with *frames* distinct frames."""
    imgs = [photo(width, height, seed=i).convert("P") for i in range(frames)]
    imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=100, loop=0)
    return path


def png16(path: Path, width: int, height: int) -> Path:
    """A 16-bit greyscale PNG."""
    arr = photo_array(width, height)[..., 0].astype(np.uint16) * 257
    return save(Image.fromarray(arr), path, "PNG")


def cmyk_jpeg(path: Path, width: int, height: int) -> Path:
    """A CMYK JPEG."""
    return save(photo(width, height).convert("CMYK"), path, "JPEG", quality=90)


def noisy_png_bytes(width: int, height: int, seed: int = 0) -> bytes:
    """PNG bytes of pure noise: about 3 bytes per pixel, for size-limit tests."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _png_bytes(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def png48(path: Path, width: int, height: int) -> Path:
    """A 48-bit RGB PNG (16 bits per channel), written by hand since Pillow cannot save one."""
    arr = photo_array(width, height).astype(">u2") * 257
    rows = b"".join(b"\x00" + arr[y].tobytes() for y in range(height))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_png_bytes(width, height, 16, 2, zlib.compress(rows)))
    return path


def png_declaring(path: Path, width: int, height: int, complete: bool = True) -> Path:
    """A small PNG whose header claims *width* x *height* (a decompression bomb when large).

    Its chunks are well formed with valid CRCs but its pixel data is a token few bytes; with
    *complete* False it stops right after the header chunk, like a download cut short.
    """
    data = _png_bytes(width, height, 8, 2, zlib.compress(b"\x00" * 64))
    if not complete:
        data = data[: 8 + 25]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def webp_declaring(path: Path, width: int, height: int) -> Path:
    """A WebP made of an extended header (VP8X) claiming a *width* x *height* canvas."""
    vp8x = bytes([0x10, 0, 0, 0]) + (width - 1).to_bytes(3, "little")
    vp8x += (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def animated_png(path: Path, width: int = 40, height: int = 30, frames: int = 3) -> Path:
    """An animated PNG (APNG) with *frames* distinct frames."""
    imgs = [photo(width, height, seed=i) for i in range(frames)]
    imgs[0].save(path, "PNG", save_all=True, append_images=imgs[1:], duration=100, loop=0)
    return path


def animated_webp(path: Path, width: int = 40, height: int = 30, frames: int = 3) -> Path:
    """An animated WebP with *frames* distinct frames."""
    imgs = [photo(width, height, seed=i) for i in range(frames)]
    imgs[0].save(path, "WEBP", save_all=True, append_images=imgs[1:], duration=100, loop=0)
    return path


def palette_png_with_transparency(path: Path, width: int, height: int) -> Path:
    """A palette PNG whose colour index 0 is transparent (a tRNS chunk, no alpha band)."""
    img = graphic(width, height).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return save(img, path, "PNG", transparency=0)


def mpo(path: Path, width: int, height: int) -> Path:
    """A two-picture MPO (a JPEG with a second picture attached, as stereo cameras write)."""
    first, second = photo(width, height, seed=1), photo(width, height, seed=2)
    first.save(path, "MPO", save_all=True, append_images=[second])
    return path


def encoded(img: Image.Image, fmt: str, **params: object) -> bytes:
    """The bytes of *img* saved in format *fmt* (e.g. ``"PNG"``, ``"JPEG"``), without a file."""
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def ico_declaring(path: Path, width: int, height: int) -> Path:
    """An icon whose one picture is a PNG claiming *width* x *height* (its directory says 32)."""
    picture = _png_bytes(width, height, 8, 2, zlib.compress(b"\x00" * 64))
    directory = struct.pack("<HHH", 0, 1, 1)
    directory += struct.pack("<BBBBHHII", 32, 32, 0, 0, 1, 32, len(picture), 6 + 16)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(directory + picture)
    return path


# --------------------------------------------------------------------------------------------
# Preparation: realistic photos and screenshots, corners to check orientation, awkward JPEGs

#: The colours of the four corners of :func:`corners` (top-left, top-right, bottom-left,
#: bottom-right), far apart so that JPEG loss cannot blur one into another.
CORNER_COLOURS = ((220, 30, 30), (30, 200, 40), (30, 50, 220), (240, 240, 240))

#: EXIF orientation -> the transpose that turns an upright picture into the stored one.
_STORED_FROM_UPRIGHT = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _fractal(width: int, height: int, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """Smooth-to-fine value noise in 0..1 (five octaves of upsampled random grids)."""
    out = np.zeros((height, width), np.float32)
    amplitude, total, cells = 1.0, 0.0, 4
    for _ in range(5):
        grid = rng.random((max(2, cells * height // width + 1), cells + 1), dtype=np.float32)
        layer = Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC)
        out += amplitude * np.asarray(layer)
        total += amplitude
        amplitude *= 0.55
        cells *= 3
    return out / total


def _upsampled(small: npt.NDArray[np.float32], width: int, height: int) -> npt.NDArray[np.float32]:
    image = Image.fromarray(np.ascontiguousarray(small, dtype=np.float32))
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))


def realistic_photo_array(width: int, height: int, seed: int = 0) -> npt.NDArray[np.uint8]:
    """A camera-like RGB array: sky and ground gradients, fractal texture, soft-edged shapes,
    a high-frequency "foliage" patch and sensor noise. At 4000 x 3000 and JPEG quality 92 it
    comes out at about 2.5 to 3.5 MB, like a real camera file.

    The smooth parts are drawn at half size and upsampled; only the fine detail and the noise
    are made at full size (a 12 MP image takes about a second).
    """
    rng = np.random.default_rng(seed)
    hw, hh = max(2, width // 2), max(2, height // 2)
    y = np.linspace(0, 1, hh, dtype=np.float32)[:, None, None]
    x = np.linspace(0, 1, hw, dtype=np.float32)[None, :, None]
    horizon = 0.45 + 0.05 * np.sin(x * 6 + seed)
    sky = np.array([120, 160, 230], np.float32) + y * np.array([80, 60, -40], np.float32)
    ground = np.array([70, 90, 40], np.float32) + (1 - y) * np.array([60, 50, 20], np.float32)
    img = np.where(y < horizon, sky, ground) + 0 * x
    # Soft-edged shapes, drawn small and upsampled: smooth regions with blurred borders.
    sw, sh = 256, max(2, 256 * height // width)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    colours = np.zeros((sh, sw, 3), np.float32)
    cover = np.zeros((sh, sw), np.float32)
    for _ in range(40):
        cx, cy, radius = rng.uniform(0, sw), rng.uniform(0, sh), rng.uniform(3, 25)
        mask = np.clip((radius - np.hypot(xx - cx, yy - cy)) / 2.0, 0, 1).astype(np.float32)
        colour = rng.uniform(0, 255, 3).astype(np.float32)
        colours = colours * (1 - mask[..., None]) + colour * mask[..., None]
        cover = np.maximum(cover, mask)
    alpha = 0.8 * _upsampled(cover, hw, hh)[..., None]
    shapes = np.stack([_upsampled(colours[..., c], hw, hh) for c in range(3)], axis=-1)
    img = img * (1 - alpha) + shapes * alpha
    img += (_fractal(hw, hh, rng)[..., None] - 0.5) * np.array([60, 70, 50], np.float32)
    base = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    full = np.asarray(base.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
    # Full-size detail: a grainy "foliage" patch bottom left, then sensor noise.
    detail = rng.standard_normal((height, width), dtype=np.float32) * 3.0
    fy, fx = int(height * 0.6), width // 2
    foliage = rng.random((height - fy, fx), dtype=np.float32) - 0.5
    detail[fy:, :fx] += 40 * foliage
    full += detail[..., None]
    full += rng.standard_normal((height, width, 3), dtype=np.float32) * 1.5
    return np.clip(full, 0, 255).astype(np.uint8)


def realistic_photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A camera-like RGB image (see :func:`realistic_photo_array`)."""
    return Image.fromarray(realistic_photo_array(width, height, seed))


def screenshot(width: int, height: int, seed: int = 0) -> Image.Image:
    """A flat application screenshot: title bar, side bar, cards, buttons and anti-aliased
    text (Pillow's built-in font), like a 4K capture of a desktop app."""
    from PIL import ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (width, height), (243, 244, 246))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width, 56), fill=(32, 33, 36))
    side = width // 6
    draw.rectangle((0, 56, side, height), fill=(228, 230, 235))
    font, big = ImageFont.load_default(size=15), ImageFont.load_default(size=22)
    words = [
        "embed",
        "image",
        "vector",
        "request",
        "model",
        "search",
        "document",
        "query",
        "batch",
        "upload",
        "preview",
        "settings",
    ]
    for i in range(height // 40):
        draw.text((16, 70 + i * 36), " ".join(rng.choice(words, 2)), fill=(60, 64, 67), font=font)
    top = 80
    while top < height - 120:
        left = side + 40
        w, h = int(rng.integers(width // 3, width - side - 80)), int(rng.integers(120, 320))
        draw.rounded_rectangle(
            (left, top, left + w, top + h), 8, fill=(255, 255, 255), outline=(218, 220, 224)
        )
        title = " ".join(rng.choice(words, 4)).title()
        draw.text((left + 20, top + 16), title, fill=(32, 33, 36), font=big)
        for line in range((h - 60) // 24):
            text = " ".join(rng.choice(words, int(rng.integers(6, 16))))
            draw.text((left + 20, top + 56 + line * 24), text, fill=(95, 99, 104), font=font)
        button = tuple(int(c) for c in rng.integers(0, 200, 3))
        bx = left + w - 140
        draw.rounded_rectangle((bx, top + h - 50, bx + 110, top + h - 16), 6, fill=button)
        top += h + 30
    return img


def corners(width: int, height: int) -> Image.Image:
    """A grey picture whose four corner quarters are :data:`CORNER_COLOURS`, upright."""
    img = Image.new("RGB", (width, height), (128, 128, 128))
    qw, qh = width // 4, height // 4
    boxes = (
        (0, 0, qw, qh),
        (width - qw, 0, width, qh),
        (0, height - qh, qw, height),
        (width - qw, height - qh, width, height),
    )
    for box, colour in zip(boxes, CORNER_COLOURS, strict=True):
        img.paste(colour, box)
    return img


def stored_for_orientation(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera stores for *upright* when it writes EXIF *orientation*."""
    method = _STORED_FROM_UPRIGHT[orientation]
    return upright if method is None else upright.transpose(method)


def oriented_corners(
    path: Path, orientation: int, width: int = 160, height: int = 120, fmt: str = "JPEG"
) -> Path:
    """A file that shows :func:`corners` (*width* x *height*) once EXIF *orientation* is
    applied; its stored pixels are turned or flipped accordingly."""
    exif = Image.Exif()
    exif[_EXIF_ORIENTATION] = orientation
    stored = stored_for_orientation(corners(width, height), orientation)
    params: dict[str, object] = {"exif": exif.tobytes()}
    if fmt == "JPEG":
        params["quality"] = 95
    return save(stored, path, fmt, **params)


def jpeg_with_broken_huffman_table(data: bytes) -> bytes:
    """*data* (a JPEG) with its first Huffman table (DHT) given an impossible table number.

    The header (size, colours, EXIF) still reads fine, but no decoder can decode the pixels.
    """
    pos = data.index(b"\xff\xc4")
    return data[: pos + 4] + bytes([0x07]) + data[pos + 5 :]


def jpeg_padded_to(data: bytes, total: int) -> bytes:
    """*data* (a JPEG) grown to exactly *total* bytes with comment segments after its start."""
    missing = total - len(data)
    if missing == 0:
        return data
    if missing < 4:
        raise ValueError("a comment segment needs at least 4 bytes")
    segments = []
    while missing > 0:
        # Each segment is 4 bytes of marker and length plus at most 65,533 bytes of text; never
        # leave less than 4 bytes for the last one.
        body = min(65_533, missing - 4)
        if 0 < missing - (body + 4) < 4:
            body -= 4
        segments.append(b"\xff\xfe" + (body + 2).to_bytes(2, "big") + b"x" * body)
        missing -= body + 4
    return data[:2] + b"".join(segments) + data[2:]


def noisy_rgba_png_bytes(width: int, height: int, seed: int = 0) -> bytes:
    """PNG bytes of noise with a noisy alpha channel (about 4 bytes per pixel)."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, "RGBA").save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def grey_alpha_png(path: Path, width: int, height: int) -> Path:
    """A grey-with-alpha (LA) PNG whose left half is fully transparent."""
    grey = photo(width, height).convert("L")
    alpha = Image.new("L", (width, height), 255)
    alpha.paste(0, (0, 0, width // 2, height))
    return save(Image.merge("LA", (grey, alpha)), path, "PNG")


def photo_folder(folder: Path, count: int, width: int = 64, height: int = 48) -> list[Path]:
    """*count* distinct small photos (JPEG and PNG alternating) in *folder*."""
    paths = []
    for n in range(count):
        ext, fmt = ("jpg", "JPEG") if n % 2 == 0 else ("png", "PNG")
        paths.append(save(photo(width, height, seed=1000 + n), folder / f"img{n:04d}.{ext}", fmt))
    return paths


def corrupt_data_png(path: Path, width: int = 64, height: int = 48) -> Path:
    """A PNG whose header and end chunk are intact but whose pixel data is damaged.

    Reading its header works (so it is probed and sent as it is), but decoding it fails: the
    kind of image only the server discovers.
    """
    data = bytearray(encoded(photo(width, height, seed=77), "PNG"))
    idat = data.index(b"IDAT") + 4
    for i in range(idat + 8, idat + 40):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


# --------------------------------------------------------------------------------------------
# Rules: files of an exact size


def png_padded_to(data: bytes, total: int) -> bytes:
    """*data* (a PNG) grown to exactly *total* bytes by a private ancillary chunk before IEND.

    The chunk (``prVt``: ancillary, private, safe to copy) carries zeros with a valid CRC, so
    every reader skips it and the picture is unchanged.
    """
    end_chunk = _png_chunk(b"IEND", b"")
    if not data.endswith(end_chunk):
        raise ValueError("the PNG must end with its IEND chunk")
    missing = total - len(data)
    if missing < 12:
        raise ValueError("a PNG chunk needs at least 12 bytes")
    pad = _png_chunk(b"prVt", bytes(missing - 12))
    return data[: -len(end_chunk)] + pad + end_chunk


# --------------------------------------------------------------------------------------------
# Many files at once (the window's reading and grid)


def jpeg_with_comment(data: bytes, comment: bytes) -> bytes:
    """*data* (a JPEG) with a comment segment after its start: same pixels, other bytes."""
    return data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]


def distinct_jpegs(folder: Path, count: int, width: int = 64, height: int = 56) -> list[Path]:
    """*count* small JPEGs in *folder* with the same picture but distinct bytes (and sha256).

    One picture is encoded once; each file differs by a comment naming its number, so
    thousands of files take well under a second to write.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data = encoded(photo(width, height, seed=5), "JPEG", quality=80)
    paths = []
    for n in range(count):
        path = folder / f"many{n:05d}.jpg"
        path.write_bytes(jpeg_with_comment(data, f"copy {n}".encode()))
        paths.append(path)
    return paths
