"""The probe on real files: every field, every way a file can be bad, folder walks, threads."""

from __future__ import annotations

import hashlib
import io
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from desktop.core.images import (
    CollectResult,
    Probe,
    ProbeError,
    Skipped,
    collect_paths,
    probe_all,
    probe_file,
    probe_many,
    sniff_format,
)
from desktop.core.models import DECOMPRESSION_BOMB_PIXELS
from tests import imagegen as g

posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX file semantics")


def _bytes_of(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------------------------
# Every field, on every kind of real image


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def test_jpeg_every_field(tmp_path: Path) -> None:
    path = g.save(g.photo(64, 48), tmp_path / "photo.JPG", "JPEG", quality=90)
    data = path.read_bytes()

    probe = probe_file(path)

    assert probe == Probe(
        path=str(path),
        file_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        format="jpeg",
        extension="jpg",
        width=64,
        height=48,
        mode="RGB",
        bits=8,
        frames=1,
        orientation=1,
        has_alpha=False,
    )
    assert probe.ok
    assert probe.pixels == 64 * 48
    assert probe.name == "photo.JPG"
    assert probe.extension_format == "jpeg"


# (file name, writer, expected fields) - the writer makes a real image at the given path.
_Writer = Callable[[Path], Path]
_CASES: dict[str, tuple[str, _Writer, dict[str, object]]] = {
    "png-alpha": (
        "g.png",
        lambda p: g.save(g.graphic(50, 40, alpha=True), p),
        {"format": "png", "width": 50, "height": 40, "mode": "RGBA", "has_alpha": True},
    ),
    "png-rgb": (
        "g.png",
        lambda p: g.save(g.graphic(50, 40), p),
        {"format": "png", "mode": "RGB", "has_alpha": False, "bits": 8},
    ),
    "png-la": (
        "la.png",
        lambda p: g.save(g.photo(30, 20).convert("LA"), p),
        {"format": "png", "mode": "LA", "has_alpha": True},
    ),
    "png-palette-transparency": (
        "p.png",
        lambda p: g.palette_png_with_transparency(p, 30, 20),
        {"format": "png", "mode": "P", "has_alpha": True},
    ),
    "png-16-bit-grey": (
        "g16.png",
        lambda p: g.png16(p, 40, 30),
        {"format": "png", "mode": "I;16", "bits": 16, "width": 40, "height": 30},
    ),
    "png-48-bit-rgb": (
        "rgb48.png",
        lambda p: g.png48(p, 40, 30),
        {"format": "png", "mode": "RGB", "bits": 16, "has_alpha": False},
    ),
    "png-animated": (
        "a.apng",
        lambda p: g.animated_png(p, frames=4),
        {"format": "png", "frames": 4, "extension": "apng"},
    ),
    "webp-lossy": (
        "w.webp",
        lambda p: g.save(g.photo(60, 40), p, quality=80),
        {"format": "webp", "width": 60, "height": 40, "mode": "RGB", "has_alpha": False},
    ),
    "webp-alpha": (
        "w.webp",
        lambda p: g.save(g.graphic(60, 40, alpha=True), p, lossless=True),
        {"format": "webp", "mode": "RGBA", "has_alpha": True},
    ),
    "webp-animated": (
        "w.webp",
        lambda p: g.animated_webp(p, frames=3),
        {"format": "webp", "frames": 3},
    ),
    "gif-animated": (
        "anim.gif",
        lambda p: g.animated_gif(p, 64, 48, frames=3),
        {"format": "gif", "frames": 3, "mode": "P", "width": 64, "height": 48},
    ),
    "gif-still-transparent": (
        "t.gif",
        lambda p: g.save(
            g.graphic(30, 20).convert("P", palette=Image.Palette.ADAPTIVE, colors=16),
            p,
            transparency=0,
        ),
        {"format": "gif", "frames": 1, "has_alpha": True},
    ),
    "bmp": (
        "b.bmp",
        lambda p: g.save(g.photo(33, 21), p),
        {"format": "bmp", "width": 33, "height": 21, "mode": "RGB"},
    ),
    "tiff": (
        "t.tif",
        lambda p: g.save(g.photo(33, 21), p),
        {"format": "tiff", "extension": "tif", "mode": "RGB", "bits": 8},
    ),
    "tiff-16-bit": (
        "t16.tiff",
        lambda p: g.save(Image.fromarray(np.full((20, 30), 1000, np.uint16)), p),
        {"format": "tiff", "mode": "I;16", "bits": 16},
    ),
    "tiff-lzw-alpha": (
        "t.tiff",
        lambda p: g.save(g.graphic(30, 20, alpha=True), p, compression="tiff_lzw"),
        {"format": "tiff", "mode": "RGBA", "has_alpha": True},
    ),
    "jpeg-cmyk": (
        "c.jpg",
        lambda p: g.cmyk_jpeg(p, 40, 30),
        {"format": "jpeg", "mode": "CMYK", "bits": 8, "has_alpha": False},
    ),
    "jpeg-grey": (
        "l.jpeg",
        lambda p: g.save(g.photo(40, 30).convert("L"), p),
        {"format": "jpeg", "mode": "L"},
    ),
    "jpeg-progressive": (
        "p.jpg",
        lambda p: g.save(g.photo(80, 60), p, progressive=True, quality=85),
        {"format": "jpeg", "width": 80, "height": 60},
    ),
    # The second picture of an MPO is not an animation frame, and an MPO is sent as a JPEG.
    "mpo": ("m.jpg", lambda p: g.mpo(p, 40, 30), {"format": "jpeg", "frames": 1}),
    "bilevel-png": (
        "one.png",
        lambda p: g.save(g.photo(16, 16).convert("1"), p),
        {"format": "png", "mode": "1", "bits": 1},
    ),
    "ico": ("i.ico", lambda p: g.save(g.graphic(32, 32), p), {"format": "ico"}),
    # A PNG named .jpg is a PNG: the bytes decide, the name is only reported.
    "png-named-jpg": (
        "lie.jpg",
        lambda p: g.save(g.graphic(20, 10), p, "PNG"),
        {"format": "png", "extension": "jpg"},
    ),
    "jpeg-named-webp": (
        "lie.webp",
        lambda p: g.save(g.photo(20, 10), p, "JPEG"),
        {"format": "jpeg", "extension": "webp"},
    ),
    "jpeg-no-extension": (
        "noext",
        lambda p: g.save(g.photo(20, 10), p, "JPEG"),
        {"format": "jpeg", "extension": ""},
    ),
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_fields_of_real_images(tmp_path: Path, case: str) -> None:
    name, write, expected = _CASES[case]
    path = write(tmp_path / name)

    probe = probe_file(path)

    assert probe.error is None, probe.error_detail
    assert probe.file_bytes == path.stat().st_size
    assert probe.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    with Image.open(path) as im:
        assert (probe.width, probe.height) == im.size
    actual = {field: getattr(probe, field) for field in expected}
    assert actual == expected


def test_16_bit_colour_is_told_apart_from_8_bit(tmp_path: Path) -> None:
    eight = probe_file(g.save(g.photo(40, 30), tmp_path / "rgb24.png"))
    sixteen = probe_file(g.png48(tmp_path / "rgb48.png", 40, 30))

    assert (eight.mode, eight.bits) == ("RGB", 8)
    assert (sixteen.mode, sixteen.bits) == ("RGB", 16)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_of_jpeg(tmp_path: Path, orientation: int) -> None:
    path = g.jpeg_with_orientation(tmp_path / "r.jpg", 40, 30, orientation)

    probe = probe_file(path)

    assert probe.ok
    assert probe.orientation == orientation
    # The header's size is the stored one; turning it upright is a later stage's job.
    assert (probe.width, probe.height) == (40, 30)


@pytest.mark.parametrize(("name", "fmt"), [("e.webp", "WEBP"), ("e.png", "PNG")])
def test_exif_orientation_of_other_formats(tmp_path: Path, name: str, fmt: str) -> None:
    path = g.save(g.photo(40, 30), tmp_path / name, fmt, exif=_exif(8))

    assert probe_file(path).orientation == 8


def test_a_tiff_is_reported_upright_because_pillow_turns_it_on_reading(tmp_path: Path) -> None:
    """Pillow applies a TIFF's orientation itself; the app must not turn it a second time."""
    path = g.save(g.photo(40, 30), tmp_path / "e.tif", "TIFF", exif=_exif(8))

    probe = probe_file(path)

    assert probe.orientation == 1
    assert (probe.width, probe.height) == (30, 40)


def test_orientation_out_of_range_reads_as_upright(tmp_path: Path) -> None:
    path = g.save(g.photo(40, 30), tmp_path / "odd.jpg", "JPEG", exif=_exif(9))

    probe = probe_file(path)

    assert probe.ok
    assert probe.orientation == 1


def test_png_without_exif_is_upright(tmp_path: Path) -> None:
    assert probe_file(g.save(g.photo(40, 30), tmp_path / "plain.png")).orientation == 1


# --------------------------------------------------------------------------------------------
# Every way a file can be bad


def _failed(probe: Probe, error: ProbeError) -> None:
    assert probe.error is error, (probe.error, probe.error_detail)
    assert not probe.ok
    assert probe.error_detail


def test_zero_byte_file(tmp_path: Path) -> None:
    probe = probe_file(_write(tmp_path / "empty.jpg", b""))

    _failed(probe, ProbeError.EMPTY)
    assert probe.file_bytes == 0


def test_missing_file(tmp_path: Path) -> None:
    probe = probe_file(tmp_path / "nowhere.png")

    _failed(probe, ProbeError.MISSING)
    assert probe.sha256 is None


def test_path_through_a_file_is_missing(tmp_path: Path) -> None:
    parent = g.save(g.photo(8, 8), tmp_path / "a.jpg")

    _failed(probe_file(parent / "b.jpg"), ProbeError.MISSING)


@posix_only
def test_broken_symlink_is_missing(tmp_path: Path) -> None:
    link = tmp_path / "gone.jpg"
    link.symlink_to(tmp_path / "deleted.jpg")

    _failed(probe_file(link), ProbeError.MISSING)


@posix_only
def test_symlink_loop_is_missing(tmp_path: Path) -> None:
    link = tmp_path / "loop.jpg"
    link.symlink_to(link)

    _failed(probe_file(link), ProbeError.MISSING)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "looks-like.png"
    folder.mkdir()

    probe = probe_file(folder)

    _failed(probe, ProbeError.NOT_A_FILE)
    assert "folder" in probe.error_detail


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_fifo_is_not_a_file_and_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)

    probe = probe_file(fifo)

    _failed(probe, ProbeError.NOT_A_FILE)
    assert "pipe" in probe.error_detail


def test_nul_in_path_is_an_os_error(tmp_path: Path) -> None:
    _failed(probe_file(f"{tmp_path}/bad\0name.png"), ProbeError.OS_ERROR)


@posix_only
@pytest.mark.skipif(os.name == "posix" and os.geteuid() == 0, reason="root reads mode 000 files")
def test_unreadable_file_is_permission(tmp_path: Path) -> None:
    path = g.save(g.photo(8, 8), tmp_path / "secret.jpg")
    path.chmod(0)
    try:
        _failed(probe_file(path), ProbeError.PERMISSION)
    finally:
        path.chmod(0o600)


@posix_only
@pytest.mark.skipif(os.name == "posix" and os.geteuid() != 0, reason="needs root to drop to nobody")
def test_unreadable_file_is_permission_for_a_user_without_rights(tmp_path: Path) -> None:
    # Root reads anything, so a forked child drops to the 'nobody' user and probes from inside
    # the folder (its parents are private to root; the folder itself is only searchable).
    path = g.save(g.photo(8, 8), tmp_path / "secret.jpg")
    path.chmod(0)
    tmp_path.chmod(0o711)
    probe_file(g.save(g.photo(8, 8), tmp_path / "warm-up.jpg"))  # readers loaded as root
    folder = os.open(tmp_path, os.O_RDONLY)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            os.fchdir(folder)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.write(write_end, str(probe_file("secret.jpg").error).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    os.close(folder)
    with os.fdopen(read_end, "rb") as pipe:
        reported = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert reported == str(ProbeError.PERMISSION)


def test_random_bytes_are_not_an_image(tmp_path: Path) -> None:
    data = np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    assert sniff_format(data) is None

    probe = probe_file(_write(tmp_path / "noise.jpg", data))

    _failed(probe, ProbeError.NOT_IMAGE)
    assert probe.format is None
    assert probe.sha256 == hashlib.sha256(data).hexdigest()


def test_text_named_png_is_not_an_image(tmp_path: Path) -> None:
    probe = probe_file(_write(tmp_path / "notes.png", b"shopping list: eggs, milk\n" * 40))

    _failed(probe, ProbeError.NOT_IMAGE)
    assert probe.format is None


def test_png_header_over_text_is_not_an_image(tmp_path: Path) -> None:
    # Starts like a PNG and even ends like one, but nothing in between is a PNG.
    data = b"\x89PNG\r\n\x1a\n" + b"hello" * 20 + b"\x00\x00\x00\x00IEND\xaeB`\x82"
    probe = probe_file(_write(tmp_path / "fake.png", data))

    _failed(probe, ProbeError.NOT_IMAGE)
    assert "PNG" in probe.error_detail


def test_jpeg_cut_in_its_image_data_is_truncated(tmp_path: Path) -> None:
    data = _bytes_of(g.photo(200, 150), "JPEG", quality=90)
    probe = probe_file(_write(tmp_path / "cut.jpg", data[: len(data) * 2 // 3]))

    _failed(probe, ProbeError.TRUNCATED)
    # The header was intact, so what it says is still reported.
    assert (probe.format, probe.width, probe.height) == ("jpeg", 200, 150)


def test_jpeg_missing_only_its_end_marker_is_truncated(tmp_path: Path) -> None:
    data = _bytes_of(g.photo(64, 48), "JPEG")
    assert data.endswith(b"\xff\xd9")

    _failed(probe_file(_write(tmp_path / "cut.jpg", data[:-2])), ProbeError.TRUNCATED)


def test_progressive_jpeg_cut_short_is_truncated(tmp_path: Path) -> None:
    data = _bytes_of(g.photo(120, 90), "JPEG", progressive=True)

    _failed(probe_file(_write(tmp_path / "cut.jpg", data[: len(data) // 2])), ProbeError.TRUNCATED)


def test_jpeg_cut_in_its_header_is_truncated(tmp_path: Path) -> None:
    data = _bytes_of(g.photo(64, 48), "JPEG", exif=_exif(6))

    probe = probe_file(_write(tmp_path / "cut.jpg", data[:60]))

    _failed(probe, ProbeError.TRUNCATED)
    assert probe.format == "jpeg"


def test_end_marker_of_an_embedded_thumbnail_does_not_hide_a_cut(tmp_path: Path) -> None:
    # Cameras embed a whole thumbnail JPEG (with its own FF D9) before the main image data.
    thumbnail = _bytes_of(g.photo(16, 12), "JPEG")
    main = _bytes_of(g.photo(160, 120), "JPEG", quality=90)
    comment = b"\xff\xfe" + (len(thumbnail) + 2).to_bytes(2, "big") + thumbnail
    whole = main[:2] + comment + main[2:]
    assert probe_file(_write(tmp_path / "whole.jpg", whole)).ok

    cut = probe_file(_write(tmp_path / "cut.jpg", whole[: len(whole) * 3 // 4]))

    _failed(cut, ProbeError.TRUNCATED)


def test_jpeg_with_bytes_after_its_end_is_fine(tmp_path: Path) -> None:
    data = _bytes_of(g.photo(64, 48), "JPEG") + b"vendor trailer" * 10

    assert probe_file(_write(tmp_path / "tail.jpg", data)).ok


@pytest.mark.parametrize("keep", [0.5, 0.9, -1])
def test_png_cut_short_is_truncated(tmp_path: Path, keep: float) -> None:
    data = g.noisy_png_bytes(64, 64)
    end = len(data) - 1 if keep == -1 else int(len(data) * keep)

    probe = probe_file(_write(tmp_path / "cut.png", data[:end]))

    _failed(probe, ProbeError.TRUNCATED)
    assert probe.format == "png"


def test_gif_cut_short_is_truncated(tmp_path: Path) -> None:
    data = g.animated_gif(tmp_path / "a.gif").read_bytes()

    probe = probe_file(_write(tmp_path / "cut.gif", data[: len(data) - 200]))

    _failed(probe, ProbeError.TRUNCATED)
    assert probe.format == "gif"


def test_gif_cut_in_its_header_is_truncated(tmp_path: Path) -> None:
    data = g.animated_gif(tmp_path / "a.gif").read_bytes()

    _failed(probe_file(_write(tmp_path / "cut.gif", data[:200])), ProbeError.TRUNCATED)


def test_gif_missing_only_its_trailer_is_whole(tmp_path: Path) -> None:
    # Every block is complete; readers show such a GIF whole, so the probe does not object.
    data = g.animated_gif(tmp_path / "a.gif").read_bytes()
    assert data.endswith(b";")

    probe = probe_file(_write(tmp_path / "no-trailer.gif", data[:-1]))

    assert probe.ok
    assert probe.frames == 3


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_webp_cut_short_is_truncated(tmp_path: Path, keep: float) -> None:
    data = _bytes_of(g.photo(80, 60), "WEBP", quality=80)

    probe = probe_file(_write(tmp_path / "cut.webp", data[: int(len(data) * keep)]))

    _failed(probe, ProbeError.TRUNCATED)
    assert probe.format == "webp"


def test_bmp_cut_short_is_truncated(tmp_path: Path) -> None:
    data = _bytes_of(g.photo(40, 30), "BMP")

    probe = probe_file(_write(tmp_path / "cut.bmp", data[:-100]))

    _failed(probe, ProbeError.TRUNCATED)
    assert (probe.width, probe.height) == (40, 30)


def test_tiff_cut_short_is_truncated(tmp_path: Path) -> None:
    # Pillow writes the directory before the strips, so a cut loses pixel data only.
    data = _bytes_of(g.photo(40, 30), "TIFF")

    _failed(probe_file(_write(tmp_path / "cut.tif", data[:-100])), ProbeError.TRUNCATED)


def test_huge_declared_dimensions_probe_without_decoding(tmp_path: Path) -> None:
    # 10^10 pixels: decoding would need 30 GB. The probe only reads the header.
    path = g.png_declaring(tmp_path / "bomb.png", 100_000, 100_000)

    probe = probe_file(path)

    assert probe.ok, probe.error_detail
    assert (probe.width, probe.height) == (100_000, 100_000)
    assert probe.pixels > DECOMPRESSION_BOMB_PIXELS


def test_huge_declared_dimensions_cut_after_the_header(tmp_path: Path) -> None:
    path = g.png_declaring(tmp_path / "bomb.png", 100_000, 100_000, complete=False)

    _failed(probe_file(path), ProbeError.TRUNCATED)


def test_huge_webp_canvas_probes_from_its_header(tmp_path: Path) -> None:
    # libwebp would allocate the canvas (1.6 GB here) the moment Pillow opened the file.
    path = g.webp_declaring(tmp_path / "bomb.webp", 20_000, 20_000)

    probe = probe_file(path)

    assert probe.ok, probe.error_detail
    assert (probe.format, probe.width, probe.height) == ("webp", 20_000, 20_000)
    assert probe.pixels > DECOMPRESSION_BOMB_PIXELS


@pytest.mark.parametrize("side", [2_000, 100_000])
def test_icon_with_a_huge_picture_probes_from_its_header(tmp_path: Path, side: int) -> None:
    # Pillow decodes an icon's picture as it opens it: this one would need up to 40 GB.
    path = g.ico_declaring(tmp_path / "bomb.ico", side, side)

    probe = probe_file(path)

    assert probe.ok, probe.error_detail
    assert (probe.format, probe.width, probe.height, probe.mode) == ("ico", side, side, "RGB")


def test_non_utf8_file_name(tmp_path: Path) -> None:
    if sys.platform != "linux":
        pytest.skip("only Linux file systems take arbitrary bytes as names")
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9-\xff.png")
    with open(raw, "wb") as f:
        f.write(_bytes_of(g.photo(20, 10), "PNG"))

    from_bytes = probe_file(raw)
    from_text = probe_file(from_bytes.path)

    assert isinstance(from_bytes.path, str)
    assert os.fsencode(from_bytes.path) == raw
    assert from_bytes.ok
    assert from_bytes.extension == "png"
    assert from_text == from_bytes
    assert collect_paths([os.fsdecode(tmp_path)]).files == [from_bytes.path]


# --------------------------------------------------------------------------------------------
# The big-file path (hashed in chunks, parsed from disk) agrees with the in-memory one


def _gallery(folder: Path) -> list[Path]:
    jpeg = _bytes_of(g.photo(120, 90), "JPEG", exif=_exif(3))
    return [
        _write(folder / "photo.jpg", jpeg),
        _write(folder / "cut.jpg", jpeg[: len(jpeg) // 2]),
        g.save(g.graphic(50, 40, alpha=True), folder / "g.png"),
        _write(folder / "cut.png", g.noisy_png_bytes(32, 32)[:-5]),
        g.animated_gif(folder / "a.gif"),
        _write(folder / "cut.gif", g.animated_gif(folder / "b.gif").read_bytes()[:-100]),
        g.animated_webp(folder / "a.webp"),
        g.save(g.photo(30, 20), folder / "t.tiff"),
        g.save(g.photo(30, 20), folder / "b.bmp"),
        g.png48(folder / "p48.png", 20, 10),
        g.png_declaring(folder / "bomb.png", 100_000, 100_000),
        _write(folder / "text.png", b"not an image at all"),
    ]


def test_streamed_probe_matches_in_memory_probe(tmp_path: Path) -> None:
    for path in _gallery(tmp_path):
        in_memory = probe_file(path)
        streamed = probe_file(path, whole_read_limit=0)
        assert streamed == in_memory, path.name


# --------------------------------------------------------------------------------------------
# Walking folders


def _names(result: CollectResult, root: Path) -> list[str]:
    return [os.path.relpath(p, root) for p in result.files]


def _skips(result: CollectResult, root: Path) -> dict[str, str]:
    return {os.path.relpath(s.path, root): s.reason for s in result.skipped}


def test_walk_nested_folders_in_stable_order(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    for rel in ["b.jpg", "a.png", "z/deep/c.webp", "m/d.gif", "m/A.bmp"]:
        g.save(g.photo(8, 8), root / rel, "PNG")
    _write(root / "readme.txt", b"my holiday")
    _write(root / "scan", _bytes_of(g.photo(8, 8), "JPEG"))  # no extension, but a JPEG
    _write(root / ".thumbs.jpg", b"cache")
    _write(root / ".cache" / "e.jpg", b"cache")

    result = collect_paths([root])

    assert _names(result, root) == [
        "a.png",
        "b.jpg",
        "scan",
        os.path.join("m", "A.bmp"),
        os.path.join("m", "d.gif"),
        os.path.join("z", "deep", "c.webp"),
    ]
    assert _skips(result, root) == {
        ".cache": "hidden folder",
        ".thumbs.jpg": "hidden file",
        "readme.txt": "not an image",
    }
    assert all(isinstance(s, Skipped) for s in result.skipped)


def test_walk_keeps_files_with_image_extensions_whatever_they_hold(tmp_path: Path) -> None:
    _write(tmp_path / "notes.png", b"text pretending")

    result = collect_paths([tmp_path])

    assert _names(result, tmp_path) == ["notes.png"]
    assert probe_all(result.files)[0].error is ProbeError.NOT_IMAGE


def test_named_paths_are_always_kept(tmp_path: Path) -> None:
    text = _write(tmp_path / "notes.txt", b"hello")
    hidden = g.save(g.photo(8, 8), tmp_path / ".hidden.png")
    missing = tmp_path / "missing.jpg"

    result = collect_paths([text, hidden, missing])

    assert result.files == [str(text), str(hidden), str(missing)]
    assert result.skipped == []
    errors = [p.error for p in probe_all(result.files)]
    assert errors == [ProbeError.NOT_IMAGE, None, ProbeError.MISSING]


def test_a_file_named_twice_appears_once(tmp_path: Path) -> None:
    photo = g.save(g.photo(8, 8), tmp_path / "dir" / "cat.jpg")
    other = g.save(g.photo(8, 8), tmp_path / "dir" / "dog.jpg")
    spelled_differently = os.path.join(tmp_path, "dir", "..", "dir", "cat.jpg")

    result = collect_paths([photo, tmp_path / "dir", spelled_differently, photo])

    assert result.files == [str(photo), str(other)]


def test_a_folder_named_twice_is_walked_once(tmp_path: Path) -> None:
    g.save(g.photo(8, 8), tmp_path / "sub" / "a.jpg")

    result = collect_paths([tmp_path, tmp_path / "sub"])

    assert _names(result, tmp_path) == [os.path.join("sub", "a.jpg")]
    assert _skips(result, tmp_path) == {"sub": "folder already walked"}


@posix_only
def test_walk_survives_a_symlink_loop(tmp_path: Path) -> None:
    root = tmp_path / "root"
    g.save(g.photo(8, 8), root / "sub" / "a.jpg")
    (root / "sub" / "back-up").symlink_to(root, target_is_directory=True)
    (root / "sub" / "self").symlink_to(root / "sub" / "self")

    result = collect_paths([root])

    assert _names(result, root) == [os.path.join("sub", "a.jpg")]
    skips = _skips(result, root)
    assert skips[os.path.join("sub", "back-up")] == "folder already walked"
    assert skips[os.path.join("sub", "self")] == "broken link"


@posix_only
def test_walk_follows_a_link_to_another_folder(tmp_path: Path) -> None:
    g.save(g.photo(8, 8), tmp_path / "elsewhere" / "x.jpg")
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)

    result = collect_paths([tmp_path / "root"])

    assert _names(result, tmp_path / "root") == [os.path.join("linked", "x.jpg")]


@posix_only
def test_walk_broken_links(tmp_path: Path) -> None:
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "deleted.txt")

    result = collect_paths([tmp_path])

    assert _names(result, tmp_path) == ["gone.jpg"]
    assert _skips(result, tmp_path) == {"gone.txt": "broken link"}
    assert probe_file(result.files[0]).error is ProbeError.MISSING


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_walk_skips_a_fifo_without_opening_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    os.mkfifo(tmp_path / "pipe.jpg")

    result = collect_paths([tmp_path])

    assert result.files == []
    assert _skips(result, tmp_path) == {
        "pipe": "not a regular file",
        "pipe.jpg": "not a regular file",
    }


@posix_only
@pytest.mark.skipif(os.name == "posix" and os.geteuid() == 0, reason="root reads any folder")
def test_walk_reports_an_unreadable_folder(tmp_path: Path) -> None:
    g.save(g.photo(8, 8), tmp_path / "ok" / "a.jpg")
    locked = tmp_path / "locked"
    g.save(g.photo(8, 8), locked / "b.jpg")
    locked.chmod(0)
    try:
        result = collect_paths([tmp_path])
    finally:
        locked.chmod(0o700)

    assert _names(result, tmp_path) == [os.path.join("ok", "a.jpg")]
    assert _skips(result, tmp_path)["locked"].startswith("folder cannot be read")


def test_sniff_format_knows_the_common_magic_numbers() -> None:
    photo = g.photo(8, 8)
    samples = {
        "jpeg": _bytes_of(photo, "JPEG"),
        "png": _bytes_of(photo, "PNG"),
        "gif": _bytes_of(photo, "GIF"),
        "webp": _bytes_of(photo, "WEBP"),
        "bmp": _bytes_of(photo, "BMP"),
        "tiff": _bytes_of(photo, "TIFF"),
        "ico": _bytes_of(photo, "ICO"),
        "ppm": _bytes_of(photo, "PPM"),
        "qoi": _bytes_of(photo, "QOI"),
    }
    assert {fmt: sniff_format(data[:32]) for fmt, data in samples.items()} == {
        fmt: fmt for fmt in samples
    }
    assert sniff_format(b"BMW owners club minutes\n") is None
    assert sniff_format(b"") is None


# --------------------------------------------------------------------------------------------
# Probing many files


def _mixed_files(folder: Path) -> list[str]:
    paths = [
        g.save(g.photo(10 + i, 5 + i), folder / f"p{i}.{ext}")
        for i, ext in enumerate(["jpg", "png", "webp", "gif", "bmp"])
    ]
    return [
        str(paths[0]),
        str(folder / "missing.jpg"),
        str(paths[1]),
        str(_write(folder / "empty.png", b"")),
        str(paths[2]),
        str(_write(folder / "text.png", b"hi there")),
        str(paths[3]),
        str(paths[4]),
    ]


@pytest.mark.parametrize("workers", [1, 3, 8])
def test_probe_many_keeps_input_order(tmp_path: Path, workers: int) -> None:
    paths = _mixed_files(tmp_path) * 5

    probes = list(probe_many(paths, max_workers=workers))

    assert [p.path for p in probes] == paths
    assert probes == [probe_file(p) for p in paths]


def test_probe_many_on_2000_small_files(tmp_path: Path) -> None:
    sizes = [(1 + i % 37, 1 + i % 23) for i in range(2000)]
    paths = []
    for i, (w, h) in enumerate(sizes):
        img = Image.new("RGB", (w, h), (i % 256, i // 256, 7))
        paths.append(str(_write(tmp_path / f"{i:04d}.png", _bytes_of(img, "PNG"))))

    probes = probe_all(paths)

    assert len(probes) == 2000
    assert all(p.ok for p in probes)
    assert [(p.width, p.height) for p in probes] == sizes
    assert len({p.sha256 for p in probes}) == 2000


def _counting(paths: list[str], pulled: list[int]) -> Iterator[str]:
    for path in paths:
        pulled[0] += 1
        yield path


def test_probe_many_holds_a_bounded_window(tmp_path: Path) -> None:
    photo = str(g.save(g.photo(8, 8), tmp_path / "a.png"))
    pulled = [0]

    results = probe_many(_counting([photo] * 1000, pulled), max_workers=2)
    first = next(results)

    assert first.ok
    # Four in flight per worker: the rest of the thousand paths has not been touched.
    assert pulled[0] <= 4 * 2
    results.close()
    assert pulled[0] <= 4 * 2


def test_probe_many_rejects_zero_workers() -> None:
    with pytest.raises(ValueError, match="max_workers"):
        list(probe_many(["a.png"], max_workers=0))


def test_probe_many_of_nothing() -> None:
    assert list(probe_many([])) == []


# --------------------------------------------------------------------------------------------
# Property-based: whatever the bytes, the probe answers and never raises


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _check_answer(path: Path) -> Probe:
    probe = probe_file(path)
    assert probe.error is not None or (probe.width > 0 and probe.height > 0)
    assert probe.error is None or probe.error_detail
    # The chunked big-file path must reach the same answer (the OS words errors its own way).
    streamed = probe_file(path, whole_read_limit=0)
    assert replace(streamed, error_detail="") == replace(probe, error_detail="")
    return probe


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(min_size=0, max_size=2048))
def test_random_bytes_never_raise(fuzz_dir: Path, data: bytes) -> None:
    _check_answer(_write(fuzz_dir / "random.png", data))


def _seeds() -> dict[str, bytes]:
    photo = g.photo(24, 16)
    exif = _exif(6)
    frames = [g.photo(16, 12, seed=i) for i in range(3)]
    anim = io.BytesIO()
    frames[0].save(anim, "GIF", save_all=True, append_images=frames[1:])
    apng = io.BytesIO()
    frames[0].save(apng, "PNG", save_all=True, append_images=frames[1:])
    return {
        "jpeg": _bytes_of(photo, "JPEG", exif=exif),
        "png": _bytes_of(g.graphic(24, 16, alpha=True), "PNG"),
        "png16": _bytes_of(Image.fromarray(np.full((8, 8), 999, np.uint16)), "PNG"),
        "webp": _bytes_of(photo, "WEBP", exif=exif),
        "gif": anim.getvalue(),
        "apng": apng.getvalue(),
        "bmp": _bytes_of(photo, "BMP"),
        "tiff": _bytes_of(photo, "TIFF", exif=exif),
        "ico": _bytes_of(photo, "ICO"),
    }


_SEEDS: dict[str, bytes] = _seeds()


@st.composite
def _mutated_images(draw: st.DrawFn) -> bytes:
    data = bytearray(_SEEDS[draw(st.sampled_from(sorted(_SEEDS)))])
    flips = draw(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 7)), max_size=8))
    for index, bit in flips:
        data[index] ^= 1 << bit
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=_mutated_images())
def test_mutated_images_never_raise(fuzz_dir: Path, data: bytes) -> None:
    _check_answer(_write(fuzz_dir / "mutated.img", data))


@pytest.mark.parametrize("name", sorted(_SEEDS))
def test_fuzz_seeds_are_good_images(fuzz_dir: Path, name: str) -> None:
    # The mutations start from images the probe accepts, so the fuzzing explores near them.
    assert _check_answer(_write(fuzz_dir / f"seed-{name}", _SEEDS[name])).ok
