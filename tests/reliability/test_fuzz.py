"""Fuzzing probe and prepare with damaged real images: a clear answer for every file, never a
crash.

Real images of every kind the app reads (JPEG with EXIF orientation, progressive and CMYK JPEG,
PNG with alpha, 16-bit and palette PNG, animated GIF, APNG and WebP, lossless WebP, AVIF, BMP,
TIFF, ICO, MPO) are generated, then mutated: bits flipped, bytes set to boundary values, 32-bit
fields overwritten with extreme sizes, ranges deleted, duplicated or inserted, and the file cut
short. For each file the probe must answer (an error with words, or a size), and prepare, for a
v4 and a v3 model, with and without an orientation to apply, must give either a PrepareError
with a rule code and words, or bytes that decode to what they claim, within the API's limits.

CI runs a modest number of examples; ``EMBED_STUDIO_FUZZ_EXAMPLES=20000`` runs a long fuzz
(see README.md in this folder for its figures).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import io
import os
from functools import cache
from pathlib import Path
from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from desktop.core.images import Probe, probe_file
from desktop.core.models import MAX_IMAGE_BYTES, MAX_PIXELS, Settings
from desktop.core.prepare import Prepared, PrepareError, prepare
from tests import imagegen as g

EXAMPLES: Final = int(os.environ.get("EMBED_STUDIO_FUZZ_EXAMPLES", "200"))
V4: Final = Settings(model="embed-v4.0")
V3: Final = Settings(model="embed-english-v3.0")
#: The rule codes a preparation failure may carry.
PREPARE_CODES: Final = {"unreadable", "decompression-bomb", "over-size-limit"}
MIME_OF_FORMAT: Final = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
BOUNDARY_BYTES: Final = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
BOUNDARY_WORDS: Final = (0, 1, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 65_500, 100_000)


def _encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    return g.encoded(image, fmt, **params)


def _animated(fmt: str) -> bytes:
    frames = [g.photo(20, 14, seed=n) for n in range(3)]
    if fmt == "GIF":
        frames = [f.convert("P") for f in frames]
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=80, loop=0)
    return buffer.getvalue()


@cache
def seeds() -> dict[str, bytes]:
    """One small, valid file of each kind the app reads."""
    photo = g.photo(40, 30, seed=3)
    art = g.graphic(36, 28, seed=4, alpha=True)
    exif = Image.Exif()
    exif[0x0112] = 6
    mpo = io.BytesIO()
    photo.save(mpo, "MPO", save_all=True, append_images=[g.photo(40, 30, seed=5)])
    made = {
        "jpeg-exif": _encoded(photo, "JPEG", quality=80, exif=exif.tobytes()),
        "jpeg-progressive": _encoded(photo, "JPEG", quality=70, progressive=True),
        "jpeg-cmyk": _encoded(photo.convert("CMYK"), "JPEG"),
        "png-rgba": _encoded(art, "PNG"),
        "png-16bit": _encoded(Image.new("I;16", (20, 12), 40_000), "PNG"),
        "png-palette": _encoded(art.convert("P"), "PNG", transparency=0),
        "gif-animated": _animated("GIF"),
        "png-animated": _animated("PNG"),
        "webp-animated": _animated("WEBP"),
        "webp-lossless": _encoded(art, "WEBP", lossless=True),
        "webp-exif": _encoded(photo, "WEBP", exif=exif.tobytes()),
        "bmp": _encoded(photo, "BMP"),
        "tiff-exif": _encoded(photo, "TIFF", exif=exif.tobytes()),
        "ico": _encoded(photo, "ICO"),
        "mpo": mpo.getvalue(),
    }
    # A Pillow without AVIF cannot make one (and the probe says it cannot read it).
    with contextlib.suppress(KeyError, OSError):
        made["avif"] = _encoded(photo, "AVIF")
    return made


@st.composite
def damaged_images(draw: st.DrawFn) -> bytes:
    """A seed image with a few mutations applied."""
    data = bytearray(seeds()[draw(st.sampled_from(sorted(seeds())))])
    for _ in range(draw(st.integers(0, 6))):
        size = len(data)
        if size == 0:
            break
        at = draw(st.integers(0, size - 1))
        action = draw(st.sampled_from(("flip", "byte", "word", "delete", "repeat", "insert")))
        if action == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "byte":
            data[at] = draw(st.sampled_from(BOUNDARY_BYTES))
        elif action == "word":
            word = draw(st.sampled_from(BOUNDARY_WORDS))
            order = draw(st.sampled_from(("big", "little")))
            data[at : at + 4] = word.to_bytes(4, order)  # type: ignore[arg-type]
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif action == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 256))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def check_probe(path: Path) -> Probe:
    """The probe answers: an error in words, or a positive size."""
    probe = probe_file(path)
    if probe.error is None:
        assert probe.width > 0
        assert probe.height > 0
        assert probe.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    else:
        assert probe.error_detail
    return probe


def check_prepared(prepared: Prepared, data: bytes, chosen: Settings) -> None:
    """The bytes decode to what they claim, within the API's limits (and, for a model that
    downsamples large images, within the pixels it looks at)."""
    assert len(prepared.data) <= MAX_IMAGE_BYTES
    assert prepared.sha256 == hashlib.sha256(prepared.data).hexdigest()
    if prepared.unchanged:
        assert prepared.data == data
        return
    with Image.open(io.BytesIO(prepared.data)) as image:
        image.load()
        assert MIME_OF_FORMAT.get(image.format or "") == prepared.mime
        assert image.size == (prepared.width, prepared.height)
        spec = chosen.spec
        if spec is not None and spec.resizes_large_images:
            assert image.width * image.height <= MAX_PIXELS
        assert image.mode in ("RGB", "RGBA", "L", "P")


def check_file(path: Path, data: bytes) -> None:
    """Probe, then prepare for v4 and v3, as found and with a rotation to apply."""
    path.write_bytes(data)
    probe = check_probe(path)
    for candidate in (probe, dataclasses.replace(probe, orientation=6)):
        for chosen in (V4, V3):
            outcome = prepared_or_error(candidate, chosen)
            if isinstance(outcome, PrepareError):
                assert str(outcome)
                assert outcome.code in PREPARE_CODES, outcome.code
                continue
            assert candidate.ok
            check_prepared(outcome, data, chosen)


def prepared_or_error(probe: Probe, chosen: Settings) -> Prepared | PrepareError:
    """What prepare gives: its result or its PrepareError (anything else propagates)."""
    try:
        return prepare(probe, chosen)
    except PrepareError as exc:
        return exc


#: A damaged AVIF the long fuzz found (bytes of an AVIF this machine's libavif wrote, with
#: mutations): Pillow's AVIF plugin raised RuntimeError, which the probe let through.
DAMAGED_AVIF: Final = base64.b64decode(
    "AAAAIGZ0eXBhdmlmAAAAAGF2aWZtaWYxbWlhZk1BMUIAAADrbWV0YQAAAAAAAAAhaGRscgAAAAAAAAAAcGljdAAA"
    "AAAAAAAAAAAAAAAAAAAOcGl0bQAAAAAAAQAAAB5pbG9jAAAAAEQAAAEAAQAAAAEAAAETAAABSQAAAChpaW5mAAAA"
    "AAABAAAAGmluZmUCAAAAAAEAAGF2MDFDb2xvcgAAAABqaXBycAAAAEtpcGNvAAAAFGlzcGUAAAAAAAAAKAAAAB4A"
    "AAAQcGl4aQAAAAMICAgAAAAMYXYxQ4EADAAAAAATY29scm5jbHgAAQANAAaAAAAAF2lwbWEAAAAAAAAAAQABBAEC"
    "gwQAAAFRbWRhdBIACgkYFSfrRAQ0GhAyuQIUx4eGZQIIIJ5QAAAIx5M2JVYpfk8nxwU0VkcYWHu0T4OC3nIHl0mx"
    "XfzU/JofscixzRIrPInoX4BFjPFHZWRuLRnkPR524jwfeOBoCeppl3GPGYx9Zm97gxw4+6d7/vzvj/natz+DVGJt"
    "a+vpYtii4avvrM1bHF6t3O0zem6L95zAD9FjyvdBk9U5kNbNRnWkHfC5AQ5OiM1xeBHJkT35w7hl4dEDM2WCtS9R"
    "WwO55APoTqd59DQRAqRAlH2gpLc54yJ5OXoK8RfjgsydzUjM9vCu1peCXoWfVCfmsNY45ybCUKToRv//nk76JuOc"
    "RwkyqLN6ICLtx81O8h3IvZ/ocHx61Ww14g/wBN8SWHGNf+bADxou4eJqpQXi4jX59NMpnHBKDG3J5KC0xihrpWsH"
    "/gtPAnrxpCks"
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("kind", sorted(seeds()))
def test_every_seed_is_a_good_image(folder: Path, kind: str) -> None:
    # Mutations start from images the app reads, so the fuzzing explores near real files.
    probe = check_probe_of(folder / f"seed-{kind}", seeds()[kind])
    assert probe.ok, (kind, probe.error, probe.error_detail)
    check_file(folder / f"seed-{kind}", seeds()[kind])


def check_probe_of(path: Path, data: bytes) -> Probe:
    path.write_bytes(data)
    return check_probe(path)


@pytest.mark.parametrize("name", ["damaged.avif", "damaged.img"])
def test_a_damaged_avif_the_fuzz_found_is_unreadable_not_a_crash(folder: Path, name: str) -> None:
    probe = check_probe_of(folder / name, DAMAGED_AVIF)
    assert probe.error is not None
    check_file(folder / name, DAMAGED_AVIF)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=damaged_images())
def test_damaged_images_get_a_clear_answer_from_probe_and_prepare(
    folder: Path, data: bytes
) -> None:
    check_file(folder / "damaged.img", data)
