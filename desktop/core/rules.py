"""Every restriction the app checks, as data: a code, a severity and a plain-words message.

Item rules judge one probed image under the current settings; request rules judge the run as a
whole. The GUI, the command line and the tests all read the same tables below, so a finding means
the same thing everywhere. Rules are pure and do no I/O: re-judging thousands of items after a
settings change costs milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from desktop.core.images import IMAGE_EXTENSIONS, Probe, ProbeError
from desktop.core.models import (
    ACCEPTED_MIME,
    DECOMPRESSION_BOMB_PIXELS,
    MAX_BODY_BYTES,
    MAX_IMAGE_BYTES,
    MAX_PIXELS,
    MIN_PIXELS,
    MODELS,
    RETIRED_MODELS,
    InputType,
    RequestShape,
    Settings,
)
from desktop.core.pacing import paced_seconds


class Severity(StrEnum):
    """How serious a finding is; ``error`` means it will not be sent."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """Order for "the worst of": info < warning < error."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK: Final = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Status(StrEnum):
    """An item's overall state: the worst severity among its findings (info counts as ok)."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Finding:
    """One judgement on an item or a request, for people and for programs."""

    code: str
    severity: Severity
    message: str

    def as_dict(self) -> dict[str, str]:
        """The JSON shape of ``embed-studio check --json``."""
        return {"code": self.code, "severity": self.severity.value, "message": self.message}


def status_of(findings: Iterable[Finding]) -> Status:
    """The worst severity among *findings*, with ``info`` counting as ok."""
    worst = max((f.severity.rank for f in findings), default=0)
    return (Status.OK, Status.WARNING, Status.ERROR)[worst]


# --------------------------------------------------------------------------------------------
# Words and numbers


def mb(n: int | float) -> str:
    """Bytes as megabytes for people (MiB, labelled MB as most people read it)."""
    return f"{n / (1024 * 1024):.1f} MB"


def body_mb(n: int | float) -> str:
    """A request body's size in the decimal megabytes its 20 MB limit is counted in."""
    return f"{n / 1_000_000:.1f}".removesuffix(".0") + " MB"


def size_words(n: int | float) -> str:
    """A byte count in the unit people expect (bytes, KB or MB)."""
    if n < 1024:
        return f"{int(n)} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return mb(n)


def duration_words(seconds: float) -> str:
    """A duration as people say it: "about 40 seconds", "about 2 hours 5 minutes"."""
    if seconds < 1.5:
        return "a moment"
    if seconds < 60:
        return f"about {round(seconds)} seconds"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    text = f"about {hours} hour{'s' if hours != 1 else ''}"
    return f"{text} {rest} minute{'s' if rest != 1 else ''}" if rest else text


def fitted_size(width: int, height: int, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """The largest size with the same aspect ratio (within a pixel) and at most *max_pixels*."""
    if width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    exact_w, exact_h = width * scale, height * scale
    w, h = max(1, math.floor(exact_w)), max(1, math.floor(exact_h))
    # Floating point can leave the floors one pixel too many; trim the longer side.
    while w * h > max_pixels:
        if w >= h:
            w -= 1
        else:
            h -= 1
    # Flooring both sides can waste a row or column: grow each side up to its exact size
    # rounded up (so the aspect stays within a pixel), the shorter side first, while it fits.
    grown = True
    while grown:
        grown = False
        for side in ("w", "h") if w <= h else ("h", "w"):
            cw, ch = (w + 1, h) if side == "w" else (w, h + 1)
            if cw * ch <= max_pixels and cw <= math.ceil(exact_w) and ch <= math.ceil(exact_h):
                w, h, grown = cw, ch, True
                break
    return w, h


_PROBE_ERROR_WORDS: Final = {
    ProbeError.MISSING: "The file is not there (moved, deleted, or a broken link).",
    ProbeError.PERMISSION: "The app is not allowed to read this file (check its permissions).",
    ProbeError.EMPTY: "The file is empty (0 bytes).",
    ProbeError.NOT_IMAGE: "This is not an image the app can read.",
    ProbeError.TRUNCATED: "The image is cut short: the file ends before the picture does "
    "(an unfinished download or copy?).",
    ProbeError.NOT_A_FILE: "This is not a regular file (a folder, device or pipe).",
    ProbeError.OS_ERROR: "The file could not be read.",
}

_MODE_WORDS: Final = {
    "CMYK": "print colours (CMYK)",
    "LA": "grey with transparency",
    "PA": "a palette with transparency",
    "P": "a palette with transparency",
    "I": "32-bit integer values",
    "F": "floating-point values",
    "YCbCr": "YCbCr colours",
    "LAB": "Lab colours",
    "HSV": "HSV colours",
}

#: Modes the API takes as they are (with 8 bits per channel).
_SENDABLE_MODES: Final = frozenset({"1", "L", "P", "RGB", "RGBA"})


def _needs_colour_conversion(p: Probe) -> bool:
    if p.bits > 8:
        return True
    if p.mode == "P" and p.has_alpha:
        return True
    return p.mode not in _SENDABLE_MODES


def _colour_words(p: Probe) -> str:
    if p.bits > 8:
        return f"{p.bits}-bit colour"
    return _MODE_WORDS.get(p.mode or "", f"the colour mode {p.mode}")


def _claimed_format(p: Probe) -> str | None:
    """The format the file name claims, if its extension names an image format."""
    if p.extension_format is not None:
        return p.extension_format
    return p.extension if p.extension in IMAGE_EXTENSIONS else None


def resamples(s: Settings) -> bool:
    """Whether the model resizes images outside its pixel range (what is sent depends on it)."""
    spec = s.spec
    return spec is not None and spec.resizes_large_images


# --------------------------------------------------------------------------------------------
# Item rules


@dataclass(frozen=True, slots=True)
class ItemRule:
    """A restriction on one image.

    Attributes:
        code: the stable code (never changes once shipped).
        severity: how serious it is when it applies.
        title: a few words for lists and tooltips.
        explanation: what the rule is about and what the app does, for the rule's help page.
        transforms: whether the app changes the image because of it (no pass-through then).
        applies: the predicate over the probe and the settings.
        describe: the plain-words message with the numbers involved.
        uses_settings: whether the predicate reads the settings; the others are judged once per
            probe, so a settings change re-judges only these.
    """

    code: str
    severity: Severity
    title: str
    explanation: str
    transforms: bool
    applies: Callable[[Probe, Settings], bool]
    describe: Callable[[Probe, Settings], str]
    uses_settings: bool = False


def _downsample_words(p: Probe, _s: Settings) -> str:
    w, h = fitted_size(p.width, p.height)
    return (
        f"{p.width} x {p.height} is {p.pixels:,} pixels, more than the {MAX_PIXELS:,} the model "
        f"looks at. The app shrinks it to {w} x {h} before sending, so what is sent is what the "
        "model sees and less data travels."
    )


ITEM_RULES: Final[tuple[ItemRule, ...]] = (
    ItemRule(
        code="decompression-bomb",
        severity=Severity.ERROR,
        title="Too many pixels to open safely",
        explanation="An image whose header declares an enormous pixel count could exhaust memory "
        "when opened. The app refuses it before decoding anything.",
        transforms=False,
        applies=lambda p, s: p.pixels > DECOMPRESSION_BOMB_PIXELS,
        describe=lambda p, s: (
            f"The file says it is {p.width} x {p.height} ({p.pixels:,} pixels), beyond the "
            f"{DECOMPRESSION_BOMB_PIXELS:,} pixels the app will open safely. Nothing is sent."
        ),
    ),
    ItemRule(
        code="format-converted",
        severity=Severity.INFO,
        title="Converted to an accepted format",
        explanation="The API accepts PNG, JPEG, WebP and GIF images only. Other formats are "
        "re-encoded: PNG for graphics and transparency, JPEG for photos.",
        transforms=True,
        applies=lambda p, s: p.format not in ACCEPTED_MIME,
        describe=lambda p, s: (
            f"This is a {(p.format or '?').upper()} image; the API takes PNG, JPEG, WebP or GIF. "
            "The app converts it (PNG for graphics, JPEG for photos)."
        ),
    ),
    ItemRule(
        code="extension-mismatch",
        severity=Severity.WARNING,
        title="File name and content disagree",
        explanation="The file's extension names one format but its bytes are another (say, a PNG "
        "named .jpg). Tools that trust the name send the wrong type; the app uses the real one.",
        transforms=False,
        applies=lambda p, s: _claimed_format(p) not in (None, p.format),
        describe=lambda p, s: (
            f"The name ends in .{p.extension} but the content is {(p.format or '?').upper()}. "
            "The app sends it as what it really is."
        ),
    ),
    ItemRule(
        code="over-size-limit",
        severity=Severity.INFO,
        title="Larger than 5 MB",
        explanation="One image may be at most 5 MB. Larger files are re-encoded, first at lower "
        "quality and then at smaller sizes, until they fit.",
        transforms=True,
        applies=lambda p, s: p.file_bytes > MAX_IMAGE_BYTES,
        describe=lambda p, s: (
            f"The file is {p.file_bytes:,} bytes ({mb(p.file_bytes)}), over the limit of "
            f"{MAX_IMAGE_BYTES:,} bytes ({mb(MAX_IMAGE_BYTES)}) for one image. The app "
            "re-encodes it until it fits."
        ),
    ),
    ItemRule(
        code="downsampled",
        severity=Severity.INFO,
        title="Shrunk to the model's size",
        explanation=f"The model looks at no more than {MAX_PIXELS:,} pixels (1568 x 1568) and "
        "shrinks larger images itself. The app shrinks them first, keeping the proportions, so the "
        "preview shows what the model sees and less data is sent.",
        transforms=True,
        applies=lambda p, s: resamples(s) and p.pixels > MAX_PIXELS,
        describe=_downsample_words,
        uses_settings=True,
    ),
    ItemRule(
        code="upsampled-by-server",
        severity=Severity.WARNING,
        title="Very small image",
        explanation=f"Images under {MIN_PIXELS:,} pixels (56 x 56) are enlarged by the API before "
        "embedding, so fine detail is lost and the vector may not mean much.",
        transforms=False,
        applies=lambda p, s: resamples(s) and 0 < p.pixels < MIN_PIXELS,
        describe=lambda p, s: (
            f"{p.width} x {p.height} is only {p.pixels:,} pixels; the API enlarges images under "
            f"{MIN_PIXELS:,} pixels (56 x 56), so detail is lost. It is sent as it is."
        ),
        uses_settings=True,
    ),
    ItemRule(
        code="animated",
        severity=Severity.WARNING,
        title="Animation: first frame only",
        explanation="The API embeds still images. For an animated GIF, WebP or PNG the app sends "
        "the first frame only.",
        transforms=True,
        applies=lambda p, s: p.frames > 1,
        describe=lambda p, s: (
            f"This is an animation with {p.frames} frames; only the first frame is sent."
        ),
    ),
    ItemRule(
        code="exif-rotated",
        severity=Severity.INFO,
        title="Turned upright",
        explanation="Cameras often store photos sideways with a note (EXIF orientation) saying "
        "how to turn them. The app applies that note so the model sees the photo upright.",
        transforms=True,
        applies=lambda p, s: p.orientation not in (0, 1),
        describe=lambda p, s: (
            f"The camera stored this photo turned or flipped (EXIF orientation {p.orientation}); "
            "the app turns it upright before sending."
        ),
    ),
    ItemRule(
        code="color-converted",
        severity=Severity.INFO,
        title="Colours converted",
        explanation="The API expects ordinary 8-bit colour. Print colours (CMYK), 16-bit images, "
        "and palettes or greyscale with transparency are converted to 8-bit RGB or RGBA.",
        transforms=True,
        applies=lambda p, s: _needs_colour_conversion(p),
        describe=lambda p, s: (
            f"The image uses {_colour_words(p)}; the app converts it to 8-bit "
            f"{'RGBA' if p.has_alpha else 'RGB'}."
        ),
    ),
)

#: The ``duplicate`` rule compares items with each other, so it is not a per-item predicate.
DUPLICATE = ItemRule(
    code="duplicate",
    severity=Severity.INFO,
    title="Same image as another item",
    explanation="Two items with identical content are embedded once and billed once; both get "
    "the same vector.",
    transforms=False,
    applies=lambda p, s: False,
    describe=lambda p, s: "The same image appears earlier in the list.",
)

#: The ``unreadable`` rule stands first: when it applies no other item rule is judged.
UNREADABLE = ItemRule(
    code="unreadable",
    severity=Severity.ERROR,
    title="Cannot be read",
    explanation="The file is missing, not readable, empty, cut short, or not an image. Nothing "
    "is sent for it; the other items are not affected.",
    transforms=False,
    applies=lambda p, s: not p.ok,
    describe=lambda p, s: _PROBE_ERROR_WORDS[p.error or ProbeError.OS_ERROR],
)


_FIXED_RULES: Final = tuple(r for r in ITEM_RULES if not r.uses_settings)
_SETTINGS_RULES: Final = tuple(r for r in ITEM_RULES if r.uses_settings)


def _finding(rule: ItemRule, probe: Probe, settings: Settings) -> Finding:
    return Finding(rule.code, rule.severity, rule.describe(probe, settings))


_NO_SETTINGS: Final = Settings()


def fixed_findings(probe: Probe) -> list[Finding]:
    """Findings that hold whatever the settings (judge once per probe and keep them)."""
    if not probe.ok:
        return [_finding(UNREADABLE, probe, _NO_SETTINGS)]
    found = []
    for rule in _FIXED_RULES:
        if rule.applies(probe, _NO_SETTINGS):
            found.append(_finding(rule, probe, _NO_SETTINGS))
            if rule.severity is Severity.ERROR:
                break
    return found


def item_findings(
    probe: Probe, settings: Settings, fixed: list[Finding] | None = None
) -> list[Finding]:
    """Judge one probed image under *settings* (without the cross-item ``duplicate`` rule).

    Pass *fixed*, the probe's :func:`fixed_findings`, to skip judging them again.
    """
    found = fixed_findings(probe) if fixed is None else fixed
    # An error is always the last fixed finding (judging stops there): nothing more applies.
    if found and found[-1].severity is Severity.ERROR:
        return list(found)
    return [
        *found,
        *(_finding(r, probe, settings) for r in _SETTINGS_RULES if r.applies(probe, settings)),
    ]


def needs_transform(probe: Probe, settings: Settings) -> bool:
    """Whether the image must be decoded and re-encoded (``False`` means pass-through)."""
    return any(r.transforms and r.applies(probe, settings) for r in ITEM_RULES)


def judge_items(
    probes: Sequence[Probe],
    settings: Settings,
    fixed: Sequence[list[Finding]] | None = None,
) -> list[list[Finding]]:
    """Findings for every item, including ``duplicate`` for repeats of an earlier item.

    *fixed*, when given, holds each probe's :func:`fixed_findings` in the same order.
    """
    first: dict[str, Probe] = {}
    out: list[list[Finding]] = []
    for n, probe in enumerate(probes):
        findings = item_findings(probe, settings, fixed[n] if fixed is not None else None)
        if probe.ok and probe.sha256 is not None:
            earlier = first.setdefault(probe.sha256, probe)
            if earlier is not probe:
                findings.append(duplicate_finding(earlier))
        out.append(findings)
    return out


def duplicate_finding(earlier: Probe) -> Finding:
    """The ``duplicate`` finding for an item with the same content as *earlier*."""
    return Finding(
        DUPLICATE.code,
        DUPLICATE.severity,
        f"The same image as {earlier.name}, earlier in the list: it is sent and billed once, "
        "and both get the same vector.",
    )


RULES_BY_CODE: Final[dict[str, ItemRule]] = {
    r.code: r for r in (UNREADABLE, *ITEM_RULES, DUPLICATE)
}


# --------------------------------------------------------------------------------------------
# Request rules


@dataclass(frozen=True, slots=True)
class RunShape:
    """The facts about a run that request rules judge.

    Attributes:
        images: how many distinct images will be sent.
        requests: how many requests the plan needs.
        largest_body: the largest planned body in bytes.
        captions: how many items carry a caption (text sent with the image).
    """

    images: int
    requests: int
    largest_body: int = 0
    captions: int = 0


@dataclass(frozen=True, slots=True)
class RequestRule:
    """A restriction on the run as a whole (same fields as :class:`ItemRule`)."""

    code: str
    severity: Severity
    title: str
    explanation: str
    applies: Callable[[Settings, RunShape], bool]
    describe: Callable[[Settings, RunShape], str]


def run_seconds(images: int, settings: Settings) -> float:
    """How long sending *images* takes at the settings' pacing, in seconds (as the runner paces)."""
    return paced_seconds(images, settings.images_per_minute)


def _model_words(s: Settings, _r: RunShape) -> str:
    if s.model in RETIRED_MODELS:
        return f"The model {s.model} was retired on 2026-04-04 and no longer answers. Pick another."
    names = ", ".join(MODELS)
    return f"The model {s.model!r} cannot embed images. Models that can: {names}."


def _input_type_ok(s: Settings) -> bool:
    spec = s.spec
    return spec is None or s.effective_input_type in spec.input_types


def _input_type_words(s: Settings, _r: RunShape) -> str:
    spec = s.spec
    assert spec is not None
    allowed = ", ".join(t.value for t in spec.input_types)
    if spec.shape is RequestShape.IMAGES:
        return (
            f"{s.model} takes images only with the input type 'image', not "
            f"{s.effective_input_type!r}."
        )
    hint = " (for a collection of images, use search_document)"
    if s.effective_input_type == InputType.IMAGE:
        return f"{s.model} embeds images with one of: {allowed}; not 'image'{hint}."
    return (
        f"{s.model} does not know the input type {s.effective_input_type!r}; "
        f"use one of {allowed}{hint}."
    )


def _dimension_ok(s: Settings) -> bool:
    spec = s.spec
    if spec is None or s.output_dimension is None:
        return True
    return spec.configurable_dimension and s.output_dimension in spec.dimensions


def _dimension_words(s: Settings, _r: RunShape) -> str:
    spec = s.spec
    assert spec is not None
    if not spec.configurable_dimension:
        return (
            f"{s.model} always returns {spec.default_dimension} numbers per vector; "
            "the output size cannot be chosen."
        )
    sizes = ", ".join(str(d) for d in sorted(spec.dimensions))
    return f"{s.model} returns vectors of {sizes} numbers, not {s.output_dimension}."


def _single_image(s: Settings, r: RunShape) -> str:
    per_request = "" if r.images == 1 else f": {r.images} images need {r.images} requests"
    eta = duration_words(run_seconds(r.images, s))
    return (
        f"{s.model} takes one image per request{per_request}, {eta} at "
        f"{s.images_per_minute} images a minute. Embed v4 takes up to 96 per request."
    )


def _batch_split(s: Settings, r: RunShape) -> str:
    return (
        f"{r.images} images go in {r.requests} requests (at most "
        f"{s.spec.max_images_per_request if s.spec else '?'} images and "
        f"{body_mb(MAX_BODY_BYTES)} per request); the largest is {body_mb(r.largest_body)}."
    )


def _eta(s: Settings, r: RunShape) -> str:
    return (
        f"At {s.images_per_minute} images a minute ({s.rate_limit.value} pacing) sending "
        f"{r.images} images takes {duration_words(run_seconds(r.images, s))}."
    )


def _spec_is(s: Settings, shape: RequestShape) -> bool:
    spec = s.spec
    return spec is not None and spec.shape is shape


REQUEST_RULES: Final[tuple[RequestRule, ...]] = (
    RequestRule(
        code="model-no-images",
        severity=Severity.ERROR,
        title="Model cannot embed images",
        explanation="Only embed-v4.0 and the v3 embed models take images; others are unknown "
        "or retired.",
        applies=lambda s, r: s.spec is None,
        describe=_model_words,
    ),
    RequestRule(
        code="input-type-not-allowed",
        severity=Severity.ERROR,
        title="Input type not accepted",
        explanation="Embed v4 takes images with search_document, search_query, classification or "
        "clustering; the v3 models take images only with the input type 'image'.",
        applies=lambda s, r: not _input_type_ok(s),
        describe=_input_type_words,
    ),
    RequestRule(
        code="output-dimension-unsupported",
        severity=Severity.ERROR,
        title="Vector size not available",
        explanation="Only embed-v4.0 lets you choose the vector size (256, 512, 1024 or 1536 "
        "numbers). The v3 models have a fixed size.",
        applies=lambda s, r: not _dimension_ok(s),
        describe=_dimension_words,
    ),
    RequestRule(
        code="texts-not-allowed",
        severity=Severity.ERROR,
        title="Captions not allowed here",
        explanation="With the input type 'image' (the v3 way) a request may carry no text. "
        "Remove the captions or switch to Embed v4, which embeds a caption with its image.",
        applies=lambda s, r: r.captions > 0 and s.effective_input_type == InputType.IMAGE,
        describe=lambda s, r: (
            f"{r.captions} item(s) have captions, but with the input type 'image' no text may be "
            "sent. Remove the captions, or use embed-v4.0."
        ),
    ),
    RequestRule(
        code="single-image-model",
        severity=Severity.WARNING,
        title="One image per request",
        explanation="The v3 models embed one image per request, which makes runs slower and "
        "uses more of the key's request allowance.",
        applies=lambda s, r: _spec_is(s, RequestShape.IMAGES) and r.images > 0,
        describe=_single_image,
    ),
    RequestRule(
        code="batch-split",
        severity=Severity.INFO,
        title="Several requests",
        explanation="One request holds at most 96 images and 20 MB. The app plans the fewest "
        "requests that respect both limits.",
        applies=lambda s, r: _spec_is(s, RequestShape.INPUTS) and r.requests > 1,
        describe=_batch_split,
    ),
    RequestRule(
        code="rate-limited-eta",
        severity=Severity.INFO,
        title="Run time at the rate limit",
        explanation="Keys are limited in images per minute (trial keys: 5, production keys: 400). "
        "The app sends no more than that in any minute and shows how long the run will take.",
        applies=lambda s, r: s.spec is not None and run_seconds(r.images, s) >= 60,
        describe=_eta,
    ),
)

REQUEST_RULES_BY_CODE: Final[dict[str, RequestRule]] = {r.code: r for r in REQUEST_RULES}


def request_findings(settings: Settings, run: RunShape) -> list[Finding]:
    """Judge the run as a whole."""
    return [
        Finding(r.code, r.severity, r.describe(settings, run))
        for r in REQUEST_RULES
        if r.applies(settings, run)
    ]


def explanation(code: str) -> str:
    """The longer explanation of a rule, for help pages and tooltips ('' if unknown)."""
    rule = RULES_BY_CODE.get(code) or REQUEST_RULES_BY_CODE.get(code)
    return rule.explanation if rule else ""
