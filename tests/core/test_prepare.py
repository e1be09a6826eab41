"""Preparing images: pass-through, every transform path, the 5 MB limit, and bad input."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from desktop.core.images import Probe, probe_file
from desktop.core.models import MAX_IMAGE_BYTES, MAX_PIXELS, Settings
from desktop.core.prepare import (
    Prepared,
    PrepareError,
    data_url,
    data_url_chars,
    prepare,
    prepare_many,
)
from desktop.core.rules import fitted_size
from tests import imagegen

V4 = Settings(model="embed-v4.0")
V3 = Settings(model="embed-english-v3.0")

_MIME_OF_FORMAT = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def probed(path: Path) -> Probe:
    """The probe of a file the test made (which must be readable)."""
    probe = probe_file(path)
    assert probe.ok, probe.error_detail
    return probe


def reopened(prepared: Prepared) -> Image.Image:
    """The prepared bytes decoded by Pillow, after checking they are what they claim to be."""
    assert len(prepared.data) <= MAX_IMAGE_BYTES
    assert prepared.sha256 == hashlib.sha256(prepared.data).hexdigest()
    image = Image.open(io.BytesIO(prepared.data))
    image.load()
    assert _MIME_OF_FORMAT.get(image.format or "") == prepared.mime or (
        prepared.unchanged and prepared.mime == f"image/{(image.format or '').lower()}"
    )
    assert image.size == (prepared.width, prepared.height)
    return image


def assert_sendable_mode(image: Image.Image) -> None:
    """8-bit RGB or RGBA (a grey source may stay 8-bit grey, a palette stays a palette)."""
    assert image.mode in ("RGB", "RGBA", "L", "P")


def colour_near(image: Image.Image, xy: tuple[int, int], expected: tuple[int, ...]) -> bool:
    """Whether the pixel at *xy* is within JPEG noise of *expected*."""
    pixel = image.convert("RGB").getpixel(xy)
    assert isinstance(pixel, tuple)
    return all(abs(int(a) - b) <= 40 for a, b in zip(pixel, expected, strict=True))


def corner_points(size: tuple[int, int]) -> list[tuple[int, int]]:
    """A point well inside each corner quarter: top-left, top-right, bottom-left, bottom-right."""
    w, h = size
    return [
        (w // 10, h // 10),
        (w - w // 10, h // 10),
        (w // 10, h - h // 10),
        (w - w // 10, h - h // 10),
    ]


def assert_upright_corners(image: Image.Image) -> None:
    for point, colour in zip(corner_points(image.size), imagegen.CORNER_COLOURS, strict=True):
        assert colour_near(image, point, colour), (point, image.convert("RGB").getpixel(point))


# --------------------------------------------------------------------------------------------
# Pass-through


def test_compliant_jpeg_is_sent_byte_for_byte(tmp_path: Path) -> None:
    path = imagegen.save(imagegen.photo(640, 480), tmp_path / "photo.jpg", "JPEG", quality=85)
    prepared = prepare(probed(path), V4)
    assert prepared.unchanged
    assert prepared.data == path.read_bytes()
    assert prepared.mime == "image/jpeg"
    assert (prepared.width, prepared.height) == (640, 480)
    assert prepared.changes == ()
    reopened(prepared)


def test_pass_through_never_decodes(tmp_path: Path) -> None:
    # The header reads fine but no decoder can decode the pixels (a broken Huffman table).
    good = imagegen.encoded(imagegen.photo(1700, 1500), "JPEG", quality=90)
    path = tmp_path / "broken.jpg"
    path.write_bytes(imagegen.jpeg_with_broken_huffman_table(good))
    with Image.open(path) as image, pytest.raises(OSError, match="broken data stream"):
        image.load()
    probe = probed(path)
    assert probe.pixels > MAX_PIXELS
    # v3 models take it as it is: sent byte for byte, so nothing tried to decode it ...
    prepared = prepare(probe, V3)
    assert prepared.unchanged
    assert prepared.data == path.read_bytes()
    # ... while embed-v4.0 must shrink it, which needs the pixels: that fails, in plain words.
    with pytest.raises(PrepareError) as failure:
        prepare(probe, V4)
    assert failure.value.code == "unreadable"
    assert "damaged" in str(failure.value) or "cannot" in str(failure.value)


def test_real_format_decides_the_mime_not_the_name(tmp_path: Path) -> None:
    path = imagegen.save(imagegen.graphic(120, 90), tmp_path / "really-a-png.jpg", "PNG")
    prepared = prepare(probed(path), V4)
    assert prepared.unchanged
    assert prepared.mime == "image/png"
    assert reopened(prepared).format == "PNG"


def test_data_url_and_its_length(tmp_path: Path) -> None:
    path = imagegen.save(imagegen.photo(100, 80), tmp_path / "p.jpg", "JPEG")
    prepared = prepare(probed(path), V4)
    url = data_url(prepared)
    head, _, body = url.partition(",")
    assert head == "data:image/jpeg;base64"
    assert base64.b64decode(body, validate=True) == prepared.data
    assert data_url_chars(prepared) == len(url)


# --------------------------------------------------------------------------------------------
# Shrinking and turning


def test_large_photo_on_v4_is_shrunk_to_exactly_the_fitted_size(tmp_path: Path) -> None:
    path = imagegen.save(imagegen.photo(2000, 1500), tmp_path / "big.jpg", "JPEG", quality=92)
    prepared = prepare(probed(path), V4)
    image = reopened(prepared)
    assert image.size == fitted_size(2000, 1500)
    assert image.width * image.height <= MAX_PIXELS
    assert image.mode == "RGB"
    width, height = fitted_size(2000, 1500)
    assert f"shrunk from 2000 x 1500 to {width} x {height}" in prepared.changes
    assert "re-encoded as JPEG quality 90" in prepared.changes


def test_same_large_photo_on_v3_is_not_resized(tmp_path: Path) -> None:
    path = imagegen.save(imagegen.photo(2000, 1500), tmp_path / "big.jpg", "JPEG", quality=92)
    prepared = prepare(probed(path), V3)
    assert prepared.unchanged
    assert (prepared.width, prepared.height) == (2000, 1500)


def test_shrunk_jpeg_matches_a_full_resolution_resize(tmp_path: Path) -> None:
    # The fast path resizes Y, Cb and Cr planes separately; a swapped or shifted plane would
    # show here as a large error against Pillow's full-resolution resize.
    source = imagegen.photo(2001, 1501, seed=3)
    path = imagegen.save(source, tmp_path / "odd.jpg", "JPEG", quality=95)
    prepared = prepare(probed(path), V4)
    image = reopened(prepared).convert("RGB")
    with Image.open(path) as decoded:
        reference = decoded.convert("RGB").resize(image.size, Image.Resampling.LANCZOS)
    mse = np.mean((np.asarray(image, np.float64) - np.asarray(reference, np.float64)) ** 2)
    assert 10 * np.log10(255**2 / mse) > 35


def test_large_png_photo_is_shrunk_to_exactly_the_fitted_size(tmp_path: Path) -> None:
    path = imagegen.save(imagegen.photo(2400, 1100), tmp_path / "wide.png", "PNG")
    prepared = prepare(probed(path), V4)
    image = reopened(prepared)
    assert image.size == fitted_size(2400, 1100)
    assert prepared.mime == "image/jpeg"  # a photo, so JPEG even from PNG


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_every_exif_orientation_comes_out_upright(tmp_path: Path, orientation: int) -> None:
    path = imagegen.oriented_corners(tmp_path / f"o{orientation}.jpg", orientation, 160, 120)
    prepared = prepare(probed(path), V4)
    image = reopened(prepared)
    assert image.size == (160, 120)
    assert_upright_corners(image)
    assert f"turned upright (EXIF orientation {orientation})" in prepared.changes


@pytest.mark.parametrize(("orientation", "fmt"), [(3, "PNG"), (8, "PNG"), (6, "WEBP")])
def test_exif_orientation_outside_jpeg(tmp_path: Path, orientation: int, fmt: str) -> None:
    path = imagegen.oriented_corners(tmp_path / f"o.{fmt.lower()}", orientation, 160, 120, fmt)
    image = reopened(prepare(probed(path), V4))
    assert image.size == (160, 120)
    assert_upright_corners(image)


@pytest.mark.parametrize("orientation", [5, 6])
def test_turning_and_shrinking_together(tmp_path: Path, orientation: int) -> None:
    path = imagegen.oriented_corners(tmp_path / "big.jpg", orientation, 1500, 2000)
    prepared = prepare(probed(path), V4)
    image = reopened(prepared)
    assert image.size == fitted_size(1500, 2000)  # upright size, stored sideways
    assert_upright_corners(image)


def test_exif_rotated_grey_jpeg_stays_grey(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    grey = imagegen.photo(2000, 1500).convert("L")
    path = imagegen.save(grey, tmp_path / "grey.jpg", "JPEG", exif=exif.tobytes())
    image = reopened(prepare(probed(path), V4))
    assert image.mode == "L"
    assert image.size == fitted_size(1500, 2000)


# --------------------------------------------------------------------------------------------
# Formats and colour modes


def test_photo_bmp_becomes_jpeg(tmp_path: Path) -> None:
    path = imagegen.save(imagegen.photo(300, 200), tmp_path / "photo.bmp", "BMP")
    prepared = prepare(probed(path), V4)
    image = reopened(prepared)
    assert prepared.mime == "image/jpeg"
    assert image.mode == "RGB"
    assert prepared.changes == ("converted BMP to JPEG quality 90",)


def test_graphic_bmp_becomes_lossless_png(tmp_path: Path) -> None:
    source = imagegen.graphic(300, 200)
    path = imagegen.save(source, tmp_path / "chart.bmp", "BMP")
    prepared = prepare(probed(path), V4)
    image = reopened(prepared)
    assert prepared.mime == "image/png"
    assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(source))


def test_tiff_becomes_an_accepted_format(tmp_path: Path) -> None:
    path = imagegen.save(imagegen.graphic(200, 150, alpha=True), tmp_path / "art.tiff", "TIFF")
    prepared = prepare(probed(path), V4)
    image = reopened(prepared)
    assert prepared.mime == "image/png"
    assert image.mode == "RGBA"
    assert "converted TIFF to PNG" in prepared.changes


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = imagegen.cmyk_jpeg(tmp_path / "print.jpg", 2000, 1500)
    prepared = prepare(probed(path), V4)
    image = reopened(prepared)
    assert image.mode == "RGB"
    assert image.size == fitted_size(2000, 1500)
    assert "converted CMYK to 8-bit RGB" in prepared.changes
    # The colours survive: compare with the RGB photo the CMYK file was made from.
    expected = imagegen.photo(2000, 1500).resize(image.size)
    diff = np.abs(np.asarray(image, np.int16) - np.asarray(expected, np.int16))
    assert diff.mean() < 12


def test_rgb_coded_jpeg_is_shrunk_with_the_right_colours(tmp_path: Path) -> None:
    # An Adobe JPEG that stores RGB, not YCbCr, cannot take the Y/Cb/Cr fast path.
    path = imagegen.save(
        imagegen.corners(2000, 1500), tmp_path / "rgb.jpg", "JPEG", quality=95, keep_rgb=True
    )
    image = reopened(prepare(probed(path), V4))
    assert image.size == fitted_size(2000, 1500)
    assert_upright_corners(image)


def test_sixteen_bit_grey_is_shifted_not_clipped(tmp_path: Path) -> None:
    levels = np.array([0, 300, 40_000, 65_535], np.uint16)
    samples = np.repeat(np.repeat(levels.reshape(2, 2), 60, axis=0), 80, axis=1)
    path = imagegen.save(Image.fromarray(samples), tmp_path / "g16.png", "PNG")
    assert probed(path).bits == 16
    prepared = prepare(probed(path), V4)
    image = reopened(prepared)
    assert prepared.mime == "image/png"  # four flat levels: a graphic, kept lossless
    assert image.mode == "RGB"
    got = np.asarray(image)[::60, ::80, 0].ravel()
    assert list(got) == [0, 1, 156, 255]  # 300 >> 8 == 1; a clipping convert gives 255
    assert "converted 16-bit grey to 8-bit RGB" in prepared.changes


def test_sixteen_bit_grey_photo(tmp_path: Path) -> None:
    path = imagegen.png16(tmp_path / "g16.png", 300, 200)
    image = reopened(prepare(probed(path), V4))
    expected = imagegen.photo_array(300, 200)[..., 0].astype(np.int16)
    assert np.abs(np.asarray(image.convert("L"), np.int16) - expected).mean() < 4


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.array([0.0, 0.25, 0.5, 1.0], np.float32), [0, 64, 128, 255]),  # 0..1 floats
        (np.array([-2.0, 0.0, 2.0, 6.0], np.float32), [0, 64, 128, 255]),  # stretched
        (np.array([0, 256, 32_768, 65_535], np.int32), [0, 1, 128, 255]),  # 16-bit range
    ],
    ids=["float-unit", "float-any", "int32"],
)
def test_float_and_integer_grey_are_scaled_into_8_bits(
    tmp_path: Path, values: np.ndarray, expected: list[int]
) -> None:
    samples = np.repeat(np.repeat(values.reshape(2, 2), 50, axis=0), 50, axis=1)
    path = imagegen.save(Image.fromarray(samples), tmp_path / "deep.tiff", "TIFF")
    prepared = prepare(probed(path), V4)
    image = reopened(prepared)
    assert prepared.mime == "image/png"
    assert list(np.asarray(image)[::50, ::50, 0].ravel()) == expected


def test_48_bit_png_becomes_8_bit(tmp_path: Path) -> None:
    path = imagegen.png48(tmp_path / "deep.png", 320, 240)
    assert probed(path).bits == 16
    prepared = prepare(probed(path), V4)
    image = reopened(prepared)
    assert image.mode == "RGB"
    assert "converted 16-bit colour to 8-bit RGB" in prepared.changes
    # JPEG noise on a noisy photo, nothing more: reading the low bytes or clipping would be
    # off by tens on average.
    expected = imagegen.photo_array(320, 240).astype(np.int16)
    assert np.abs(np.asarray(image, np.int16) - expected).mean() < 8


def test_palette_with_transparency_becomes_rgba(tmp_path: Path) -> None:
    path = imagegen.palette_png_with_transparency(tmp_path / "p.png", 120, 90)
    with Image.open(path) as source:
        transparent = int((np.asarray(source) == 0).sum())
    assert transparent > 0
    prepared = prepare(probed(path), V4)
    image = reopened(prepared)
    assert prepared.mime == "image/png"
    assert image.mode == "RGBA"
    assert int((np.asarray(image)[..., 3] == 0).sum()) == transparent
    assert "converted a palette with transparency to 8-bit RGBA" in prepared.changes


def test_grey_with_alpha_becomes_rgba(tmp_path: Path) -> None:
    path = imagegen.grey_alpha_png(tmp_path / "la.png", 200, 100)
    prepared = prepare(probed(path), V4)
    image = reopened(prepared)
    assert image.mode == "RGBA"
    alpha = np.asarray(image)[..., 3]
    assert (alpha[:, :100] == 0).all()
    assert (alpha[:, 100:] == 255).all()


def test_animated_gif_sends_its_first_frame(tmp_path: Path) -> None:
    path = imagegen.animated_gif(tmp_path / "anim.gif", 64, 48, frames=3)
    prepared = prepare(probed(path), V4)
    image = reopened(prepared)
    assert prepared.mime == "image/png"
    assert "first frame of 3" in prepared.changes
    with Image.open(path) as source:
        first = np.asarray(source.convert("RGB"))
    assert np.array_equal(np.asarray(image.convert("RGB")), first)


def test_animated_webp_sends_its_first_frame(tmp_path: Path) -> None:
    path = imagegen.animated_webp(tmp_path / "anim.webp", 40, 30, frames=3)
    prepared = prepare(probed(path), V4)
    reopened(prepared)
    assert "first frame of 3" in prepared.changes


def test_output_carries_no_metadata(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Camera maker"
    icc = Image.new("RGB", (1, 1)).info.get("icc_profile", b"")
    path = imagegen.save(
        imagegen.photo(400, 300),
        tmp_path / "meta.jpg",
        "JPEG",
        exif=exif.tobytes(),
        icc_profile=icc,
    )
    image = reopened(prepare(probed(path), V4))
    assert not image.getexif()
    assert "icc_profile" not in image.info
    assert "exif" not in image.info


# --------------------------------------------------------------------------------------------
# The 5 MB limit


def test_exactly_5_mib_passes_and_one_byte_more_is_re_encoded(tmp_path: Path) -> None:
    base = imagegen.encoded(imagegen.photo(1600, 1200), "JPEG", quality=90)
    at_limit = tmp_path / "at-limit.jpg"
    at_limit.write_bytes(imagegen.jpeg_padded_to(base, MAX_IMAGE_BYTES))
    over = tmp_path / "over.jpg"
    over.write_bytes(imagegen.jpeg_padded_to(base, MAX_IMAGE_BYTES + 1))
    assert at_limit.stat().st_size == MAX_IMAGE_BYTES

    kept = prepare(probed(at_limit), V4)
    assert kept.unchanged
    assert len(kept.data) == MAX_IMAGE_BYTES

    redone = prepare(probed(over), V4)
    assert not redone.unchanged
    assert len(redone.data) < MAX_IMAGE_BYTES
    assert (redone.width, redone.height) == (1600, 1200)
    assert redone.changes == ("re-encoded as JPEG quality 90",)
    reopened(redone)


@pytest.mark.parametrize("settings_", [V4, V3], ids=["v4", "v3"])
def test_noisy_12_mb_png_is_brought_under_the_limit(tmp_path: Path, settings_: Settings) -> None:
    path = tmp_path / "noise.png"
    path.write_bytes(imagegen.noisy_png_bytes(2000, 2000))
    assert path.stat().st_size > 11_000_000
    prepared = prepare(probed(path), settings_)
    image = reopened(prepared)
    assert prepared.mime == "image/jpeg"  # noise is no graphic
    assert image.width == image.height  # aspect kept


def test_quality_steps_down_before_the_size_does(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    path.write_bytes(imagegen.noisy_png_bytes(2600, 2600))
    prepared = prepare(probed(path), V3)
    reopened(prepared)
    assert (prepared.width, prepared.height) == (2600, 2600)
    assert prepared.changes[-1] in {
        f"reduced to quality {q} to fit under 5 MB" for q in (85, 75, 65)
    }


@pytest.mark.slow
def test_size_steps_down_when_quality_is_not_enough(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    path.write_bytes(imagegen.noisy_png_bytes(3800, 3000))
    prepared = prepare(probed(path), V3)
    reopened(prepared)
    assert prepared.changes[-2] == "reduced to quality 65 to fit under 5 MB"
    assert prepared.changes[-1].startswith("shrunk to ")
    assert prepared.width < 3800
    assert abs(prepared.width / prepared.height - 3800 / 3000) < 0.01


def test_transparent_png_over_the_limit_shrinks_and_keeps_its_alpha(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    path.write_bytes(imagegen.noisy_rgba_png_bytes(1200, 1200))
    assert path.stat().st_size > MAX_IMAGE_BYTES
    prepared = prepare(probed(path), V3)
    image = reopened(prepared)
    assert image.mode == "RGBA"
    assert prepared.width < 1200
    assert prepared.changes[-1].startswith("shrunk to ")


# --------------------------------------------------------------------------------------------
# Determinism and failures


@pytest.mark.parametrize(
    "make",
    [
        lambda p: imagegen.save(imagegen.photo(2000, 1500), p / "a.jpg", "JPEG"),
        # Odd sizes: the JPEG encoder reads an edge row and column past the luma plane.
        lambda p: imagegen.jpeg_with_orientation(p / "odd.jpg", 641, 481, 6),
        lambda p: imagegen.save(imagegen.graphic(300, 200), p / "a.bmp", "BMP"),
        lambda p: imagegen.cmyk_jpeg(p / "c.jpg", 600, 400),
        lambda p: imagegen.oriented_corners(p / "o.png", 6, fmt="PNG"),
    ],
    ids=["jpeg-fast-path", "jpeg-odd-size", "bmp-to-png", "cmyk", "png-rotated"],
)
def test_same_input_gives_the_same_bytes(tmp_path: Path, make) -> None:
    probe = probed(make(tmp_path))
    first = prepare(probe, V4)
    assert not first.unchanged
    for _ in range(3):
        again = prepare(probe, V4)
        assert again.sha256 == first.sha256
        assert again.data == first.data


def test_file_changed_since_probe(tmp_path: Path) -> None:
    path = imagegen.save(imagegen.photo(200, 100), tmp_path / "p.jpg", "JPEG")
    probe = probed(path)
    imagegen.save(imagegen.photo(200, 100, seed=9), path, "JPEG")
    with pytest.raises(PrepareError, match="changed since it was read"):
        prepare(probe, V4)


def test_file_gone_since_probe(tmp_path: Path) -> None:
    path = imagegen.save(imagegen.photo(200, 100), tmp_path / "p.jpg", "JPEG")
    probe = probed(path)
    path.unlink()
    with pytest.raises(PrepareError, match="not there"):
        prepare(probe, V4)


def test_unreadable_probe_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("not an image")
    probe = probe_file(path)
    assert not probe.ok
    with pytest.raises(PrepareError) as failure:
        prepare(probe, V4)
    assert failure.value.code == "unreadable"


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    path = imagegen.png_declaring(tmp_path / "bomb.png", 20_000, 10_000)
    with pytest.raises(PrepareError) as failure:
        prepare(probe_file(path), V4)
    assert failure.value.code == "decompression-bomb"
    assert "200,000,000 pixels" in str(failure.value)


def test_truncated_image_gives_plain_words(tmp_path: Path) -> None:
    data = imagegen.encoded(imagegen.photo(300, 200), "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    probe = probe_file(path)
    # The probe may notice already; if it does not, decoding must fail in plain words.
    forced = dataclasses.replace(probe, orientation=6)
    with pytest.raises(PrepareError) as failure:
        prepare(forced, V4)
    assert failure.value.code == "unreadable"


# --------------------------------------------------------------------------------------------
# Many at once


def test_prepare_many_keeps_order_and_isolates_failures(tmp_path: Path) -> None:
    good = imagegen.save(imagegen.photo(300, 200), tmp_path / "a.bmp", "BMP")
    changed = imagegen.save(imagegen.photo(300, 200), tmp_path / "b.jpg", "JPEG")
    other = imagegen.oriented_corners(tmp_path / "c.jpg", 8)
    probes = [probed(good), probed(changed), probed(other)]
    changed.write_bytes(b"something else")
    results = list(prepare_many(probes, V4, max_workers=2))
    assert isinstance(results[0], Prepared)
    assert isinstance(results[1], PrepareError)
    assert isinstance(results[2], Prepared)
    assert results[0].sha256 == prepare(probes[0], V4).sha256
    assert results[2].sha256 == prepare(probes[2], V4).sha256


def test_prepare_many_takes_pairs(tmp_path: Path) -> None:
    path = imagegen.save(imagegen.photo(2000, 1500), tmp_path / "big.jpg", "JPEG")
    probe = probed(path)
    v4, v3 = prepare_many([(probe, V4), (probe, V3)])
    assert isinstance(v4, Prepared)
    assert isinstance(v3, Prepared)
    assert not v4.unchanged
    assert v3.unchanged


def test_prepare_many_is_lazy_and_bounded(tmp_path: Path) -> None:
    path = imagegen.save(imagegen.photo(120, 80), tmp_path / "p.bmp", "BMP")
    probe = probed(path)
    pulled = 0

    def probes() -> Iterator[Probe]:
        nonlocal pulled
        for _ in range(10):
            pulled += 1
            yield probe

    results = prepare_many(probes(), V4, max_workers=1, window=2)
    assert pulled == 0  # nothing happens before the caller asks
    first = next(results)
    assert isinstance(first, Prepared)
    assert pulled == 2  # only the window was taken from the input
    rest = list(results)
    assert len(rest) == 9
    assert pulled == 10


def test_prepare_many_can_be_abandoned(tmp_path: Path) -> None:
    path = imagegen.save(imagegen.photo(120, 80), tmp_path / "p.bmp", "BMP")
    results = prepare_many([probed(path)] * 20, V4, max_workers=2)
    assert isinstance(next(results), Prepared)
    results.close()  # cancels what has not started; must not raise or hang


def test_prepare_many_refuses_zero_workers() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        prepare_many([], V4, max_workers=0)


# --------------------------------------------------------------------------------------------
# Bad bytes never escape as anything but PrepareError


_MAGIC = [
    b"\xff\xd8\xff\xe0",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"RIFF\0\0\0\0WEBP",
    b"BM",
    b"II*\0",
]


@cache
def _seed_images() -> tuple[bytes, ...]:
    photo, art = imagegen.photo(48, 36), imagegen.graphic(40, 30, alpha=True)
    return (
        imagegen.encoded(photo, "JPEG", quality=80),
        imagegen.encoded(photo, "JPEG", quality=80, progressive=True),
        imagegen.encoded(art, "PNG"),
        imagegen.encoded(photo.convert("P"), "GIF"),
        imagegen.encoded(photo, "WEBP"),
        imagegen.encoded(photo, "BMP"),
        imagegen.encoded(art, "TIFF"),
        imagegen.encoded(photo.convert("CMYK"), "JPEG"),
    )


def _check_prepare_on(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.img"
        path.write_bytes(data)
        probe = probe_file(path)
        # Also force a decode (a rotation to apply), so the pixels themselves are tried.
        variants = [probe, dataclasses.replace(probe, orientation=6)]
        for candidate in variants:
            for chosen in (V4, V3):
                _check_one(data, candidate, chosen)


def _check_one(data: bytes, probe: Probe, chosen: Settings) -> None:
    failure: PrepareError | None = None
    try:
        prepared = prepare(probe, chosen)
    except PrepareError as exc:
        failure = exc
    if failure is not None:
        assert str(failure)
        assert failure.code in {"unreadable", "decompression-bomb", "over-size-limit"}
        return
    assert probe.ok
    if prepared.unchanged:
        assert prepared.data == data
    else:
        assert_sendable_mode(reopened(prepared))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(head=st.sampled_from(_MAGIC), tail=st.binary(max_size=600))
def test_random_bytes_never_crash_prepare(head: bytes, tail: bytes) -> None:
    _check_prepare_on(head + tail)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(min_value=0, max_value=7),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), max_size=6),
    cut=st.one_of(st.none(), st.integers(min_value=1)),
)
def test_mutated_images_never_crash_prepare(
    index: int, flips: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(_seed_images()[index])
    for position, mask in flips:
        data[position % len(data)] ^= mask
    if cut is not None:
        del data[cut % len(data) :]
    _check_prepare_on(bytes(data))
