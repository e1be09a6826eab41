"""The restriction rules on real files: every item and request rule fires when it should, stays
quiet when it should not (boundaries included), and says so in plain words with its numbers."""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from desktop.core.images import Probe, ProbeError, probe_file
from desktop.core.models import (
    DECOMPRESSION_BOMB_PIXELS,
    MAX_BODY_BYTES,
    MAX_IMAGE_BYTES,
    MAX_PIXELS,
    MIN_PIXELS,
    MODELS,
    RETIRED_MODELS,
    InputType,
    RateLimit,
    RequestShape,
    Settings,
)
from desktop.core.rules import (
    ITEM_RULES,
    REQUEST_RULES,
    RULES_BY_CODE,
    Finding,
    RunShape,
    Severity,
    Status,
    fitted_size,
    fixed_findings,
    item_findings,
    judge_items,
    needs_transform,
    request_findings,
    status_of,
)
from tests import imagegen as g

V4 = Settings()
V3_MODELS = [name for name, spec in MODELS.items() if spec.shape is RequestShape.IMAGES]
V3 = Settings(model="embed-english-v3.0")


def codes(findings: Sequence[Finding]) -> list[str]:
    return [f.code for f in findings]


def assert_plain_words(message: str) -> None:
    """A sentence for people: no Python reprs, enum names or braces leaking through."""
    assert message.strip(), "empty message"
    assert message.rstrip().endswith((".", ")")), message
    for leak in ("None", "ProbeError", "Severity.", "<", "{", "}", "Traceback", "\n"):
        assert leak not in message, f"{leak!r} in {message!r}"


def judged(paths: Sequence[Path], s: Settings = V4) -> list[list[Finding]]:
    """Probe real files with the real probe and judge them as a list."""
    return judge_items([probe_file(p) for p in paths], s)


def finding(findings: Sequence[Finding], code: str) -> Finding:
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, f"expected one {code!r} in {codes(findings)}"
    return matching[0]


# --------------------------------------------------------------------------------------------
# Makers of real files, each returning the paths to judge (the rule is read on the last one)

Maker = Callable[[Path], list[Path]]


def _photo_png(tmp: Path, name: str, width: int, height: int) -> Path:
    return g.save(g.photo(width, height), tmp / name, "PNG")


def _flat_png(tmp: Path, name: str, width: int, height: int) -> Path:
    # Big boundary images as flat graphics: real PNGs that encode in milliseconds.
    return g.save(g.graphic(width, height), tmp / name, "PNG")


def _missing(tmp: Path) -> list[Path]:
    return [tmp / "gone.png"]


def _empty(tmp: Path) -> list[Path]:
    path = tmp / "empty.jpg"
    path.write_bytes(b"")
    return [path]


def _truncated_jpeg(tmp: Path) -> list[Path]:
    data = g.encoded(g.photo(200, 150), "JPEG", quality=90)
    path = tmp / "cut.jpg"
    path.write_bytes(data[: len(data) * 6 // 10])
    return [path]


def _text_named_png(tmp: Path) -> list[Path]:
    path = tmp / "notes.png"
    path.write_text("shopping list: milk, eggs, flour\n" * 20)
    return [path]


def _folder_named_jpg(tmp: Path) -> list[Path]:
    path = tmp / "album.jpg"
    path.mkdir()
    return [path]


def _bomb(tmp: Path) -> list[Path]:
    return [g.png_declaring(tmp / "bomb.png", 20_000, 10_000)]


def _bmp(tmp: Path) -> list[Path]:
    return [g.save(g.photo(80, 60), tmp / "scan.bmp", "BMP")]


def _tiff(tmp: Path) -> list[Path]:
    return [g.save(g.photo(80, 60), tmp / "scan.tiff", "TIFF")]


def _png_named_jpg(tmp: Path) -> list[Path]:
    return [g.save(g.photo(80, 60), tmp / "really-a-png.jpg", "PNG")]


def _jpeg_named_png(tmp: Path) -> list[Path]:
    return [g.save(g.photo(80, 60), tmp / "really-a-jpeg.png", "JPEG")]


def _padded_png(tmp: Path, name: str, total: int) -> Path:
    path = tmp / name
    path.write_bytes(g.png_padded_to(g.encoded(g.photo(80, 60), "PNG"), total))
    assert path.stat().st_size == total
    return path


def _over_by_one(tmp: Path) -> list[Path]:
    return [_padded_png(tmp, "over-by-one.png", MAX_IMAGE_BYTES + 1)]


def _six_and_a_half_mb(tmp: Path) -> list[Path]:
    return [_padded_png(tmp, "big.png", 6 * 1024 * 1024 + 512 * 1024)]


def _1569x1568(tmp: Path) -> list[Path]:
    return [_flat_png(tmp, "big.png", 1569, 1568)]


def _55x56(tmp: Path) -> list[Path]:
    return [_photo_png(tmp, "small.png", 55, 56)]


def _gif_3_frames(tmp: Path) -> list[Path]:
    return [g.animated_gif(tmp / "anim.gif", width=80, height=60, frames=3)]


def _apng_4_frames(tmp: Path) -> list[Path]:
    return [g.animated_png(tmp / "anim.png", frames=4)]


def _webp_2_frames(tmp: Path) -> list[Path]:
    return [g.animated_webp(tmp / "anim.webp", frames=2)]


def _exif_6(tmp: Path) -> list[Path]:
    return [g.jpeg_with_orientation(tmp / "sideways.jpg", 120, 80, 6)]


def _exif_3(tmp: Path) -> list[Path]:
    return [g.jpeg_with_orientation(tmp / "upside-down.jpg", 120, 80, 3)]


def _cmyk(tmp: Path) -> list[Path]:
    return [g.cmyk_jpeg(tmp / "print.jpg", 80, 60)]


def _png16(tmp: Path) -> list[Path]:
    return [g.png16(tmp / "grey16.png", 80, 60)]


def _png48(tmp: Path) -> list[Path]:
    return [g.png48(tmp / "rgb48.png", 80, 60)]


def _palette_alpha(tmp: Path) -> list[Path]:
    return [g.palette_png_with_transparency(tmp / "palette.png", 80, 60)]


def _grey_alpha(tmp: Path) -> list[Path]:
    return [g.grey_alpha_png(tmp / "grey-alpha.png", 80, 60)]


def _duplicate(tmp: Path) -> list[Path]:
    first = g.save(g.photo(80, 60, seed=4), tmp / "a.png", "PNG")
    other = g.save(g.photo(80, 60, seed=5), tmp / "b.png", "PNG")
    copy_ = tmp / "c-copy.png"
    shutil.copyfile(first, copy_)
    return [first, other, copy_]


@dataclass(frozen=True)
class Trigger:
    """A real file that must trigger *code*, and what its message must mention."""

    code: str
    make: Maker
    mentions: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.code}:{self.make.__name__.strip('_')}"


TRIGGERS = (
    Trigger("unreadable", _missing, ("not there",)),
    Trigger("unreadable", _empty, ("0 bytes",)),
    Trigger("unreadable", _truncated_jpeg, ("cut short",)),
    Trigger("unreadable", _text_named_png, ("not an image",)),
    Trigger("unreadable", _folder_named_jpg, ("not a regular file",)),
    Trigger("decompression-bomb", _bomb, ("20000 x 10000", "200,000,000", f"{180_000_000:,}")),
    Trigger("format-converted", _bmp, ("BMP", "PNG", "JPEG")),
    Trigger("format-converted", _tiff, ("TIFF",)),
    Trigger("extension-mismatch", _png_named_jpg, (".jpg", "PNG")),
    Trigger("extension-mismatch", _jpeg_named_png, (".png", "JPEG")),
    Trigger("over-size-limit", _over_by_one, ("5.0 MB",)),
    Trigger("over-size-limit", _six_and_a_half_mb, ("6.5 MB", "5.0 MB")),
    Trigger(
        "downsampled",
        _1569x1568,
        ("1569 x 1568", "2,460,192", "2,458,624", "{} x {}".format(*fitted_size(1569, 1568))),
    ),
    Trigger("upsampled-by-server", _55x56, ("55 x 56", "3,080", "3,136", "56 x 56")),
    Trigger("animated", _gif_3_frames, ("3 frames",)),
    Trigger("animated", _apng_4_frames, ("4 frames",)),
    Trigger("animated", _webp_2_frames, ("2 frames",)),
    Trigger("exif-rotated", _exif_6, ("orientation 6",)),
    Trigger("exif-rotated", _exif_3, ("orientation 3",)),
    Trigger("color-converted", _cmyk, ("CMYK", "8-bit RGB")),
    Trigger("color-converted", _png16, ("16-bit", "8-bit")),
    Trigger("color-converted", _png48, ("16-bit", "8-bit RGB")),
    Trigger("color-converted", _palette_alpha, ("palette", "8-bit RGBA")),
    Trigger("color-converted", _grey_alpha, ("grey", "8-bit RGBA")),
    Trigger("duplicate", _duplicate, ("same image",)),
)


def test_every_item_rule_has_a_trigger_here() -> None:
    assert {t.code for t in TRIGGERS} == set(RULES_BY_CODE)
    assert {r.code for r in ITEM_RULES} < set(RULES_BY_CODE)


@pytest.mark.parametrize("trigger", TRIGGERS, ids=str)
def test_real_file_triggers_its_rule(tmp_path: Path, trigger: Trigger) -> None:
    paths = trigger.make(tmp_path)
    found = judged(paths)[-1]
    hit = finding(found, trigger.code)
    assert hit.severity is RULES_BY_CODE[trigger.code].severity
    assert_plain_words(hit.message)
    for words in trigger.mentions:
        assert words in hit.message, f"{words!r} not in {hit.message!r}"
    if hit.severity is Severity.ERROR:
        # Judging stops at an error: nothing else is said about an item that is not sent.
        assert found == [hit]


@pytest.mark.parametrize("trigger", TRIGGERS, ids=str)
def test_pass_through_exactly_when_no_finding_transforms(tmp_path: Path, trigger: Trigger) -> None:
    probe = probe_file(trigger.make(tmp_path)[-1])
    found = item_findings(probe, V4)
    if status_of(found) is Status.ERROR:
        return  # not sent at all
    transforming = any(RULES_BY_CODE[f.code].transforms for f in found)
    assert needs_transform(probe, V4) is transforming


# --------------------------------------------------------------------------------------------
# Clean images and near misses


CLEAN_MAKERS: dict[str, Callable[[Path], Path]] = {
    "photo.jpg": lambda t: g.save(g.photo(120, 80), t / "photo.jpg", "JPEG", quality=90),
    "PHOTO.JPEG": lambda t: g.save(g.photo(120, 80, 1), t / "PHOTO.JPEG", "JPEG", quality=90),
    "graphic.png": lambda t: g.save(g.graphic(120, 80), t / "graphic.png", "PNG"),
    "alpha.png": lambda t: g.save(g.graphic(120, 80, 2, alpha=True), t / "alpha.png", "PNG"),
    "grey.png": lambda t: g.save(g.photo(120, 80, 3).convert("L"), t / "grey.png", "PNG"),
    "bilevel.png": lambda t: g.save(g.photo(120, 80, 4).convert("1"), t / "bilevel.png", "PNG"),
    "palette.png": lambda t: g.save(g.graphic(120, 80, 5).convert("P"), t / "palette.png", "PNG"),
    "still.gif": lambda t: g.save(g.photo(120, 80, 6).convert("P"), t / "still.gif", "GIF"),
    "still.webp": lambda t: g.save(g.photo(120, 80, 7), t / "still.webp", "WEBP", quality=80),
    "upright.jpg": lambda t: g.jpeg_with_orientation(t / "upright.jpg", 120, 80, 1),
    "no-extension": lambda t: g.save(g.photo(120, 80, 8), t / "no-extension", "PNG"),
}


@pytest.mark.parametrize("name", sorted(CLEAN_MAKERS))
@pytest.mark.parametrize("model", ["embed-v4.0", *V3_MODELS])
def test_clean_image_has_no_finding_and_passes_through(
    tmp_path: Path, name: str, model: str
) -> None:
    probe = probe_file(CLEAN_MAKERS[name](tmp_path))
    assert probe.ok, probe.error_detail
    s = Settings(model=model)
    assert judge_items([probe], s) == [[]]
    assert not needs_transform(probe, s)


def test_different_images_are_not_duplicates(tmp_path: Path) -> None:
    paths = [CLEAN_MAKERS[n](tmp_path) for n in ("photo.jpg", "PHOTO.JPEG", "graphic.png")]
    assert judged(paths) == [[], [], []]


def test_duplicate_marks_every_later_copy_and_not_the_first(tmp_path: Path) -> None:
    first = CLEAN_MAKERS["graphic.png"](tmp_path)
    copies = [tmp_path / f"copy-{n}.png" for n in range(2)]
    for c in copies:
        shutil.copyfile(first, c)
    result = judged([first, *copies])
    assert [codes(f) for f in result] == [[], ["duplicate"], ["duplicate"]]


def test_unreadable_copies_are_not_called_duplicates(tmp_path: Path) -> None:
    paths = _truncated_jpeg(tmp_path)
    twin = tmp_path / "cut-again.jpg"
    shutil.copyfile(paths[0], twin)
    assert [codes(f) for f in judged([paths[0], twin])] == [["unreadable"], ["unreadable"]]


def _only(paths: list[Path], s: Settings = V4) -> list[str]:
    return codes(judged(paths, s)[-1])


def test_56x56_is_not_upsampled_but_55x56_is(tmp_path: Path) -> None:
    assert MIN_PIXELS == 56 * 56
    assert _only([_photo_png(tmp_path, "exact.png", 56, 56)]) == []
    assert _only([_photo_png(tmp_path, "short.png", 55, 56)]) == ["upsampled-by-server"]
    assert _only([_photo_png(tmp_path, "narrow.png", 56, 55)]) == ["upsampled-by-server"]


def test_1568x1568_is_not_downsampled_but_1569x1568_is(tmp_path: Path) -> None:
    assert MAX_PIXELS == 1568 * 1568
    assert _only([_flat_png(tmp_path, "exact.png", 1568, 1568)]) == []
    assert _only([_flat_png(tmp_path, "wide.png", 1569, 1568)]) == ["downsampled"]
    assert _only([_flat_png(tmp_path, "tall.png", 1568, 1569)]) == ["downsampled"]


def test_exactly_5_mib_is_within_the_limit_and_one_byte_more_is_not(tmp_path: Path) -> None:
    exact = _padded_png(tmp_path, "exact.png", 5 * 1024 * 1024)
    over = _padded_png(tmp_path, "over.png", 5 * 1024 * 1024 + 1)
    assert probe_file(exact).file_bytes == MAX_IMAGE_BYTES
    assert _only([exact]) == []
    assert _only([over]) == ["over-size-limit"]


def test_over_size_message_tells_the_file_size_from_the_limit(tmp_path: Path) -> None:
    """One byte over must not read "5.0 MB, over the 5.0 MB limit": the numbers must differ."""
    found = judged(_over_by_one(tmp_path))[-1]
    message = finding(found, "over-size-limit").message
    sizes = re.findall(r"\d[\d,]*(?:\.\d+)?\s*(?:bytes|KB|MB)", message)
    assert len(set(sizes)) >= 2, f"file size and limit read the same: {message!r}"


def test_bomb_boundary_is_the_declared_pixel_count(tmp_path: Path) -> None:
    at_limit = g.png_declaring(tmp_path / "at-limit.png", 18_000, 10_000)
    over = g.png_declaring(tmp_path / "over.png", 18_000, 10_001)
    assert DECOMPRESSION_BOMB_PIXELS == 18_000 * 10_000
    assert "decompression-bomb" not in _only([at_limit])
    assert _only([over]) == ["decompression-bomb"]


@pytest.mark.parametrize("model", V3_MODELS)
def test_pixel_rules_apply_to_embed_v4_only(tmp_path: Path, model: str) -> None:
    big = _flat_png(tmp_path, "big.png", 1569, 1568)
    small = _photo_png(tmp_path, "small.png", 55, 56)
    v3 = Settings(model=model)
    assert judged([big, small], v3) == [[], []]
    assert [codes(f) for f in judged([big, small], V4)] == [
        ["downsampled"],
        ["upsampled-by-server"],
    ]
    # The settings-free part is the same under both; only the pixel rules differ.
    for path in (big, small):
        probe = probe_file(path)
        assert not needs_transform(probe, v3)
        assert needs_transform(probe, V4) is (path == big)


def test_unreadable_files_say_which_failure_it_was(tmp_path: Path) -> None:
    makers = (_missing, _empty, _truncated_jpeg, _text_named_png, _folder_named_jpg)
    probes = [probe_file(m(tmp_path)[0]) for m in makers]
    assert [p.error for p in probes] == [
        ProbeError.MISSING,
        ProbeError.EMPTY,
        ProbeError.TRUNCATED,
        ProbeError.NOT_IMAGE,
        ProbeError.NOT_A_FILE,
    ]
    messages = [finding(f, "unreadable").message for f in judge_items(probes, V4)]
    assert len(set(messages)) == len(messages)


def test_one_bad_file_costs_no_other_file_its_findings(tmp_path: Path) -> None:
    good = CLEAN_MAKERS["photo.jpg"](tmp_path)
    anim = _gif_3_frames(tmp_path)[0]
    result = judged([good, *_truncated_jpeg(tmp_path), *_bomb(tmp_path), anim])
    assert [codes(f) for f in result] == [[], ["unreadable"], ["decompression-bomb"], ["animated"]]


# --------------------------------------------------------------------------------------------
# Status


@pytest.mark.parametrize(
    ("severities", "status"),
    [
        ((), Status.OK),
        ((Severity.INFO,), Status.OK),
        ((Severity.INFO, Severity.INFO), Status.OK),
        ((Severity.INFO, Severity.WARNING), Status.WARNING),
        ((Severity.WARNING, Severity.ERROR, Severity.INFO), Status.ERROR),
    ],
)
def test_status_is_the_worst_severity_with_info_as_ok(
    severities: tuple[Severity, ...], status: Status
) -> None:
    assert status_of(Finding("x", s, "A message.") for s in severities) is status


# --------------------------------------------------------------------------------------------
# judge_items with kept fixed findings gives the same result as judging afresh

_SHAS = ("a" * 64, "b" * 64, "c" * 64)

probe_strategy = st.builds(
    Probe,
    path=st.text(max_size=6),
    file_bytes=st.integers(0, 2 * MAX_IMAGE_BYTES),
    sha256=st.sampled_from((None, *_SHAS)),
    format=st.sampled_from((None, "png", "jpeg", "webp", "gif", "bmp", "tiff", "heif")),
    extension=st.sampled_from(("", "png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "txt")),
    width=st.integers(0, 40_000),
    height=st.integers(0, 40_000),
    mode=st.sampled_from(
        (None, "1", "L", "P", "RGB", "RGBA", "CMYK", "LA", "PA", "I", "I;16", "F", "YCbCr")
    ),
    bits=st.sampled_from((1, 8, 16, 32)),
    frames=st.integers(1, 4),
    orientation=st.integers(0, 9),
    has_alpha=st.booleans(),
    error=st.none() | st.sampled_from(ProbeError),
)

settings_strategy = st.builds(
    Settings,
    model=st.sampled_from((*MODELS, *sorted(RETIRED_MODELS), "no-such-model")),
    input_type=st.none() | st.sampled_from([t.value for t in InputType]),
)


@settings(max_examples=300, deadline=None)
@given(
    probes=st.lists(probe_strategy, max_size=8),
    first=settings_strategy,
    later=st.lists(settings_strategy, min_size=1, max_size=3),
)
def test_judging_with_kept_fixed_findings_equals_judging_afresh(
    probes: list[Probe], first: Settings, later: list[Settings]
) -> None:
    fixed = [fixed_findings(p) for p in probes]
    kept = copy.deepcopy(fixed)
    for s in (first, *later):
        assert judge_items(probes, s, fixed=fixed) == judge_items(probes, s)
        for probe, f in zip(probes, fixed, strict=True):
            assert item_findings(probe, s, f) == item_findings(probe, s)
    assert fixed == kept, "judging changed the kept findings"


# --------------------------------------------------------------------------------------------
# fitted_size

_side = st.integers(1, 65_535)


def _aspect_within_one_pixel(width: int, height: int, w: int, h: int) -> bool:
    """Whether one scale factor puts both sides of (w, h) within a pixel of the original's."""
    low = max(Fraction(w - 1, width), Fraction(h - 1, height))
    high = min(Fraction(w + 1, width), Fraction(h + 1, height))
    return low <= high


@settings(max_examples=500, deadline=None)
@given(width=_side, height=_side)
@example(width=1569, height=1568)
@example(width=65_535, height=65_535)
def test_fitted_size_fits_and_keeps_the_aspect(width: int, height: int) -> None:
    w, h = fitted_size(width, height)
    assert 1 <= w <= width
    assert 1 <= h <= height
    assert w * h <= MAX_PIXELS
    assert _aspect_within_one_pixel(width, height, w, h)
    if width * height <= MAX_PIXELS:
        assert (w, h) == (width, height)


@settings(max_examples=500, deadline=None)
@given(width=_side, height=_side)
@example(width=1569, height=1568)
@example(width=14_529, height=11_763)
def test_fitted_size_is_maximal(width: int, height: int) -> None:
    w, h = fitted_size(width, height)
    if width * height <= MAX_PIXELS:
        return
    grown = (w + 1, h) if w <= h else (w, h + 1)
    assert grown[0] * grown[1] > MAX_PIXELS, (
        f"{width} x {height} -> {w} x {h} ({w * h:,} px), but {grown[0]} x {grown[1]} "
        f"({grown[0] * grown[1]:,} px) also fits"
    )


# --------------------------------------------------------------------------------------------
# Request rules

ONE_REQUEST = RunShape(images=10, requests=1, largest_body=1_000_000)


def request_codes(s: Settings, run: RunShape = ONE_REQUEST) -> list[str]:
    return codes(request_findings(s, run))


def the_request_finding(s: Settings, run: RunShape, code: str) -> Finding:
    hit = finding(request_findings(s, run), code)
    assert hit.severity is {r.code: r for r in REQUEST_RULES}[code].severity
    assert_plain_words(hit.message)
    return hit


def test_every_request_rule_is_tested_here() -> None:
    tested = {
        "model-no-images",
        "input-type-not-allowed",
        "output-dimension-unsupported",
        "texts-not-allowed",
        "single-image-model",
        "batch-split",
        "rate-limited-eta",
    }
    assert {r.code for r in REQUEST_RULES} == tested


@pytest.mark.parametrize(
    "s",
    [
        Settings(),
        Settings(input_type="search_query", output_dimension=256),
        Settings(input_type="classification", output_dimension=512),
        Settings(input_type="clustering", output_dimension=1024),
        Settings(input_type="search_document", output_dimension=1536),
    ],
    ids=str,
)
def test_no_request_rule_fires_for_a_plain_v4_run(s: Settings) -> None:
    assert request_findings(s, ONE_REQUEST) == []


@pytest.mark.parametrize("model", ["embed-english-v2.0", "embed-multilingual-v2.0"])
def test_retired_model_cannot_embed_images(model: str) -> None:
    assert model in RETIRED_MODELS
    hit = the_request_finding(Settings(model=model), ONE_REQUEST, "model-no-images")
    assert model in hit.message
    assert "2026-04-04" in hit.message
    assert request_codes(Settings(model=model)) == ["model-no-images"]


def test_unknown_model_cannot_embed_images_and_the_message_names_those_that_can() -> None:
    s = Settings(model="embed-vision-x")
    hit = the_request_finding(s, ONE_REQUEST, "model-no-images")
    assert "embed-vision-x" in hit.message
    for name in MODELS:
        assert name in hit.message
    assert request_codes(s) == ["model-no-images"]


def test_image_input_type_is_not_allowed_on_embed_v4() -> None:
    s = Settings(input_type="image")
    hit = the_request_finding(s, ONE_REQUEST, "input-type-not-allowed")
    assert "embed-v4.0" in hit.message
    assert "'image'" in hit.message
    for allowed in ("search_document", "search_query", "classification", "clustering"):
        assert allowed in hit.message
    assert request_codes(s) == ["input-type-not-allowed"]


@pytest.mark.parametrize("model", V3_MODELS)
@pytest.mark.parametrize("input_type", ["search_document", "search_query", "clustering"])
def test_v3_models_take_images_only_with_input_type_image(model: str, input_type: str) -> None:
    s = Settings(model=model, input_type=input_type)
    hit = the_request_finding(s, ONE_REQUEST, "input-type-not-allowed")
    assert model in hit.message
    assert input_type in hit.message
    assert "'image'" in hit.message
    # The same model with its default input type (image) has no such finding.
    assert Settings(model=model).effective_input_type == "image"
    assert "input-type-not-allowed" not in request_codes(Settings(model=model))


@pytest.mark.parametrize("model", V3_MODELS)
def test_output_dimension_cannot_be_chosen_on_v3(model: str) -> None:
    s = Settings(model=model, output_dimension=MODELS[model].default_dimension)
    hit = the_request_finding(s, ONE_REQUEST, "output-dimension-unsupported")
    assert model in hit.message
    assert str(MODELS[model].default_dimension) in hit.message


@pytest.mark.parametrize("dimension", [0, 128, 384, 768, 2048, -256])
def test_output_dimension_outside_the_four_sizes_is_refused(dimension: int) -> None:
    s = Settings(output_dimension=dimension)
    hit = the_request_finding(s, ONE_REQUEST, "output-dimension-unsupported")
    assert str(dimension) in hit.message
    for allowed in ("256", "512", "1024", "1536"):
        assert allowed in hit.message
    assert request_codes(s) == ["output-dimension-unsupported"]


def test_captions_with_input_type_image_are_refused() -> None:
    run = RunShape(images=4, requests=4, captions=3)
    hit = the_request_finding(V3, run, "texts-not-allowed")
    assert "3" in hit.message
    assert "embed-v4.0" in hit.message
    # Embed v4 carries captions with their images: no finding.
    assert "texts-not-allowed" not in request_codes(V4, RunShape(10, 1, captions=3))
    # And v3 without captions is fine.
    assert "texts-not-allowed" not in request_codes(V3, RunShape(4, 4))


@pytest.mark.parametrize("model", V3_MODELS)
def test_v3_models_warn_one_image_per_request(model: str) -> None:
    run = RunShape(images=10, requests=10, largest_body=200_000)
    hit = the_request_finding(Settings(model=model), run, "single-image-model")
    assert "10 images need 10 requests" in hit.message
    assert "400" in hit.message  # production pacing, images a minute
    assert "96" in hit.message
    assert "single-image-model" not in request_codes(V4, run)


def test_batch_split_gives_images_requests_and_limits() -> None:
    run = RunShape(images=200, requests=3, largest_body=19_500_000)
    hit = the_request_finding(V4, run, "batch-split")
    for number in ("200", "3 requests", "96", "20 MB"):
        assert number in hit.message, (number, hit.message)
    assert "batch-split" not in request_codes(V4, RunShape(96, 1, 19_500_000))


def test_batch_split_counts_the_largest_body_in_the_unit_of_the_limit() -> None:
    """A body exactly at the 20,000,000-byte bar must read as the bar, not as 19.1 MB of 20."""
    run = RunShape(images=200, requests=3, largest_body=MAX_BODY_BYTES)
    message = the_request_finding(V4, run, "batch-split").message
    amounts = [float(n) for n in re.findall(r"(\d+(?:\.\d+)?) MB", message)]
    assert len(amounts) == 2, message
    assert amounts[0] == amounts[1], message


def test_trial_pacing_shows_the_run_time() -> None:
    trial = Settings(rate_limit=RateLimit.TRIAL)
    hit = the_request_finding(trial, RunShape(images=12, requests=1), "rate-limited-eta")
    # 12 images at 5 a minute: 5 now, 5 a minute later, 2 a minute after that.
    for words in ("5 images a minute", "12 images", "about 2 minutes"):
        assert words in hit.message, (words, hit.message)
    # Five images go at once; a sixth waits a minute for the next allowance.
    assert "rate-limited-eta" not in request_codes(trial, RunShape(images=5, requests=1))
    assert "rate-limited-eta" in request_codes(trial, RunShape(images=6, requests=1))


def test_production_pacing_shows_the_run_time_past_400_images() -> None:
    assert "rate-limited-eta" not in request_codes(V4, RunShape(images=400, requests=5))
    hit = the_request_finding(V4, RunShape(images=4000, requests=42), "rate-limited-eta")
    # Ten minutes' allowances: the first goes at once, the last nine minutes later.
    for words in ("400 images a minute", "4000 images", "about 9 minutes"):
        assert words in hit.message, (words, hit.message)


def test_request_rules_follow_the_model_when_settings_change() -> None:
    chosen = Settings(input_type="search_query", output_dimension=512)
    run = RunShape(images=10, requests=1)
    assert request_codes(chosen, run) == []
    moved = chosen.with_model("embed-english-v3.0")
    assert request_codes(moved, RunShape(images=10, requests=10)) == ["single-image-model"]
    assert request_codes(moved.with_model("embed-v4.0"), run) == []
