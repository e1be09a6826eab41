"""``embed-studio check`` run as a real command on real folders: the table, the JSON contract,
and the exit status."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from desktop.core.images import probe_file
from desktop.core.models import (
    ACCEPTED_MIME,
    MAX_BODY_BYTES,
    MAX_IMAGE_BYTES,
    MODELS,
    Settings,
)
from desktop.core.payload import body_size, data_url_chars, envelope_size, input_size
from desktop.core.prepare import prepare
from desktop.core.rules import REQUEST_RULES, RULES_BY_CODE
from desktop.resources import samples_dir
from tests import imagegen as g

COMMAND = Path(sys.executable).with_name("embed-studio")

TOP_KEYS = {"model", "input_type", "items", "findings", "requests", "summary"}
#: Keys the command adds beyond the contract (allowed: the contract may be extended).
EXTRA_TOP_KEYS = {"skipped"}
ITEM_KEYS = {"path", "status", "findings", "source", "sent"}
FINDING_KEYS = {"code", "severity", "message"}
SOURCE_KEYS = {"format": str, "width": int, "height": int, "bytes": int, "frames": int}
SENT_KEYS = {
    "mime": str,
    "width": int,
    "height": int,
    "bytes": int,
    "data_url_chars": int,
    "sha256": str,
    "unchanged": bool,
}
SEVERITY_STATUS = {"info": "ok", "warning": "warning", "error": "error"}
STATUS_RANK = {"ok": 0, "warning": 1, "error": 2}


@dataclass(frozen=True)
class Run:
    """What the command did."""

    status: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        doc = orjson.loads(self.out)
        assert isinstance(doc, dict)
        return doc


def check(*args: str | os.PathLike[str]) -> Run:
    """Run ``embed-studio check ARGS`` in a subprocess; its output must be valid UTF-8."""
    assert COMMAND.exists(), f"the embed-studio command is not installed beside {sys.executable}"
    env = {**os.environ, "COLUMNS": "100"}
    done = subprocess.run(
        [os.fspath(COMMAND), "check", *(os.fspath(a) for a in args)],
        capture_output=True,
        timeout=120,
        env=env,
        check=False,
    )
    return Run(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))


# --------------------------------------------------------------------------------------------
# Folders of real images


def _make_clean_folder(root: Path) -> dict[str, set[str]]:
    """Images that trigger many rules but none in error; returns name -> expected codes."""
    root.mkdir(parents=True)
    g.save(g.photo(200, 150), root / "photo.jpg", "JPEG", quality=88)
    g.save(g.graphic(160, 120, seed=1), root / "graphic.png", "PNG")
    shutil.copyfile(root / "graphic.png", root / "graphic.png.again.png")
    g.animated_gif(root / "anim.gif", width=80, height=60, frames=3)
    g.save(g.photo(120, 90, seed=2), root / "scan.bmp", "BMP")
    g.save(g.photo(120, 90, seed=3), root / "really-a-png.jpg", "PNG")
    g.save(g.photo(40, 40, seed=4), root / "tiny.png", "PNG")
    g.jpeg_with_orientation(root / "sideways.jpg", 120, 80, 6)
    g.cmyk_jpeg(root / "print.jpg", 120, 90)
    g.png16(root / "grey16.png", 120, 90)
    g.save(g.graphic(1600, 1600, seed=5), root / "big.png", "PNG")
    (root / "over.png").write_bytes(
        g.png_padded_to(g.encoded(g.photo(120, 90, seed=6), "PNG"), MAX_IMAGE_BYTES + 1)
    )
    (root / "notes.txt").write_text("not an image\n")
    g.save(g.photo(100, 100, seed=7), root / "nested" / "deeper.webp", "WEBP", quality=80)
    return {
        "photo.jpg": set(),
        "graphic.png": set(),
        "graphic.png.again.png": {"duplicate"},
        "anim.gif": {"animated"},
        "scan.bmp": {"format-converted"},
        "really-a-png.jpg": {"extension-mismatch"},
        "tiny.png": {"upsampled-by-server"},
        "sideways.jpg": {"exif-rotated"},
        "print.jpg": {"color-converted"},
        "grey16.png": {"color-converted"},
        "big.png": {"downsampled"},
        "over.png": {"over-size-limit"},
        "deeper.webp": set(),
    }


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[str]]]:
    root = tmp_path_factory.mktemp("check") / "clean"
    return root, _make_clean_folder(root)


@pytest.fixture(scope="module")
def clean_json(clean: tuple[Path, dict[str, set[str]]]) -> dict[str, Any]:
    run = check(clean[0], "--json")
    assert run.status == 0, run.err
    return run.json()


@pytest.fixture(scope="module")
def with_error(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("check") / "with-error"
    root.mkdir()
    g.save(g.photo(200, 150), root / "a-photo.jpg", "JPEG", quality=88)
    data = g.encoded(g.photo(300, 200, seed=9), "JPEG", quality=90)
    (root / "b-cut.jpg").write_bytes(data[: len(data) // 2])
    g.animated_gif(root / "c-anim.gif", width=80, height=60, frames=2)
    return root


# --------------------------------------------------------------------------------------------
# The JSON contract


def _check_finding(finding: dict[str, Any]) -> None:
    assert set(finding) == FINDING_KEYS
    assert all(type(finding[k]) is str for k in FINDING_KEYS)
    assert finding["severity"] in SEVERITY_STATUS
    assert finding["message"].strip()


def check_contract(doc: dict[str, Any], model: str, input_type: str) -> None:
    """*doc* is exactly the shape cli.md promises, and its parts agree with each other."""
    assert set(doc) >= TOP_KEYS, set(doc)
    assert set(doc) - TOP_KEYS <= EXTRA_TOP_KEYS, set(doc) - TOP_KEYS
    assert doc["model"] == model
    assert doc["input_type"] == input_type
    items = doc["items"]
    assert isinstance(items, list)
    for item in items:
        assert set(item) == ITEM_KEYS, set(item)
        assert type(item["path"]) is str
        for finding in item["findings"]:
            _check_finding(finding)
            assert finding["code"] in RULES_BY_CODE
        worst = max(
            (STATUS_RANK[SEVERITY_STATUS[f["severity"]]] for f in item["findings"]), default=0
        )
        assert STATUS_RANK[item["status"]] == worst, item
        source = item["source"]
        if source is None:
            assert "unreadable" in {f["code"] for f in item["findings"]}
        else:
            assert set(source) == set(SOURCE_KEYS)
            assert all(type(source[k]) is t for k, t in SOURCE_KEYS.items())
        sent = item["sent"]
        if item["status"] == "error":
            assert sent is None
        else:
            assert sent is not None, item
            assert set(sent) == set(SENT_KEYS)
            assert all(type(sent[k]) is t for k, t in SENT_KEYS.items())
            assert sent["mime"] in ACCEPTED_MIME.values()
            assert re.fullmatch(r"[0-9a-f]{64}", sent["sha256"])
            assert 0 < sent["bytes"] <= MAX_IMAGE_BYTES
            assert sent["data_url_chars"] == data_url_chars(sent["mime"], sent["bytes"])

    request_codes = {r.code for r in REQUEST_RULES}
    for finding in doc["findings"]:
        _check_finding(finding)
        assert finding["code"] in request_codes

    # Every distinct sendable image travels exactly once; errors and repeats do not.
    spec = MODELS[model]
    envelope = envelope_size(Settings(model=model, input_type=input_type), spec)
    first_of: dict[str, int] = {}
    for n, item in enumerate(items):
        if item["sent"] is not None and item["status"] != "error":
            first_of.setdefault(item["sent"]["sha256"], n)
    placed: list[int] = []
    for request in doc["requests"]:
        assert set(request) == {"items", "body_bytes"}
        assert all(type(i) is int for i in request["items"])
        assert type(request["body_bytes"]) is int
        assert 1 <= len(request["items"]) <= spec.max_images_per_request
        placed.extend(request["items"])
        sizes = [
            input_size(items[i]["sent"]["mime"], items[i]["sent"]["bytes"], spec.shape)
            for i in request["items"]
        ]
        assert request["body_bytes"] == body_size(envelope, sizes) <= MAX_BODY_BYTES
    assert sorted(placed) == sorted(first_of.values())

    summary = doc["summary"]
    assert set(summary) == {"ok", "warning", "error", "requests"}
    assert all(type(v) is int for v in summary.values())
    for status in ("ok", "warning", "error"):
        assert summary[status] == sum(1 for i in items if i["status"] == status)
    assert summary["requests"] == len(doc["requests"])


def path_of(shown: str) -> bytes:
    """The file's real path from the JSON's ``path`` (undecodable bytes are shown as ``\\xNN``)."""
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m[1], 16)]), shown.encode())


def check_sent_by_preparing_again(doc: dict[str, Any], s: Settings) -> int:
    """Prepare every sendable item again: what the JSON says is what would be sent."""
    checked = 0
    for item in doc["items"]:
        sent = item["sent"]
        if sent is None:
            continue
        probe = probe_file(path_of(item["path"]))
        prepared = prepare(probe, s)
        assert hashlib.sha256(prepared.data).hexdigest() == sent["sha256"]
        assert len(prepared.data) == sent["bytes"]
        assert (prepared.mime, prepared.width, prepared.height, prepared.unchanged) == (
            sent["mime"],
            sent["width"],
            sent["height"],
            sent["unchanged"],
        )
        if sent["unchanged"]:
            assert sent["sha256"] == probe.sha256
        checked += 1
    return checked


def _by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {os.path.basename(i["path"]): i for i in doc["items"]}


# --------------------------------------------------------------------------------------------
# A folder with findings but nothing in error


def test_json_on_a_folder_follows_the_contract(
    clean: tuple[Path, dict[str, set[str]]], clean_json: dict[str, Any]
) -> None:
    check_contract(clean_json, "embed-v4.0", "search_document")
    expected = clean[1]
    items = _by_name(clean_json)
    assert set(items) == set(expected), "every image, folders walked, the text file left out"
    for name, codes in expected.items():
        assert {f["code"] for f in items[name]["findings"]} == codes, name
    assert clean_json["summary"] == {
        "ok": 10,
        "warning": 3,
        "error": 0,
        "requests": 1,
    }
    assert clean_json["findings"] == []
    assert items["photo.jpg"]["sent"]["unchanged"] is True
    assert items["big.png"]["sent"]["width"] * items["big.png"]["sent"]["height"] <= 1568 * 1568
    assert items["sideways.jpg"]["sent"]["width"] == items["sideways.jpg"]["source"]["height"]
    assert items["scan.bmp"]["sent"]["mime"] in ("image/png", "image/jpeg")
    assert items["really-a-png.jpg"]["sent"]["mime"] == "image/png"


def test_json_sent_is_what_preparing_again_gives(clean_json: dict[str, Any]) -> None:
    assert check_sent_by_preparing_again(clean_json, Settings()) == len(clean_json["items"])


def test_table_on_a_folder_names_every_image_and_finding(
    clean: tuple[Path, dict[str, set[str]]], clean_json: dict[str, Any]
) -> None:
    run = check(clean[0])
    assert run.status == 0, run.err
    for name in clean[1]:
        assert name in run.out
    for item in clean_json["items"]:
        for finding in item["findings"]:
            assert finding["code"] in run.out
    assert "Nothing was sent" in run.out
    assert "notes.txt" in run.out  # said to be skipped, not silently dropped


# --------------------------------------------------------------------------------------------
# An item in error


def test_a_truncated_jpeg_puts_the_item_in_error_and_exits_1(with_error: Path) -> None:
    run = check(with_error, "--json")
    assert run.status == 1, run.err
    doc = run.json()
    check_contract(doc, "embed-v4.0", "search_document")
    items = _by_name(doc)
    cut = items["b-cut.jpg"]
    assert cut["status"] == "error"
    assert cut["sent"] is None
    assert [f["code"] for f in cut["findings"]] == ["unreadable"]
    assert items["a-photo.jpg"]["status"] == "ok"
    assert items["c-anim.gif"]["status"] == "warning"
    assert doc["summary"] == {"ok": 1, "warning": 1, "error": 1, "requests": 1}
    assert check_sent_by_preparing_again(doc, Settings()) == 2


def test_table_with_an_item_in_error_exits_1(with_error: Path) -> None:
    run = check(with_error)
    assert run.status == 1, run.err
    row = next(line for line in run.out.splitlines() if "b-cut.jpg" in line)
    assert row.split()[0] == "error"
    assert "not sent" in row
    assert "unreadable" in run.out
    assert "a-photo.jpg" in run.out


# --------------------------------------------------------------------------------------------
# Usage errors


@pytest.mark.parametrize(
    "args",
    [
        ["--no-such-option"],
        ["--model", "embed-vision-x"],
        ["--model", "embed-english-v2.0"],
        ["--input-type", "thumbnail"],
        ["--output-dimension", "many"],
    ],
    ids=["unknown-option", "unknown-model", "retired-model", "unknown-input-type", "not-a-number"],
)
def test_usage_errors_exit_2_and_say_why(with_error: Path, args: list[str]) -> None:
    run = check(with_error, *args)
    assert run.status == 2, (run.out, run.err)
    assert run.err.strip()
    assert args[-1] in run.err
    assert run.out == ""


def test_no_path_is_a_usage_error() -> None:
    assert check().status == 2


# --------------------------------------------------------------------------------------------
# Settings


@pytest.mark.parametrize("model", ["embed-english-v3.0", "embed-multilingual-light-v3.0"])
def test_v3_model_defaults_to_input_type_image_and_one_image_per_request(
    with_error: Path, model: str
) -> None:
    run = check(with_error, "--model", model, "--json")
    doc = run.json()
    assert run.status == 1  # the truncated JPEG is still in error
    assert doc["input_type"] == "image"
    check_contract(doc, model, "image")
    assert [r["items"] for r in doc["requests"]] == [[0], [2]]
    codes = {f["code"]: f["severity"] for f in doc["findings"]}
    assert codes == {"single-image-model": "warning"}


def test_v3_model_with_an_input_type_for_v4_is_a_request_error(
    clean: tuple[Path, dict[str, set[str]]],
) -> None:
    folder = clean[0] / "nested"
    run = check(folder, "--model", "embed-english-v3.0", "--input-type", "search_document")
    assert run.status == 1, run.out
    assert "input-type-not-allowed" in run.out
    doc = check(
        folder, "--model", "embed-english-v3.0", "--input-type", "search_document", "--json"
    ).json()
    assert doc["input_type"] == "search_document"
    errors = [f for f in doc["findings"] if f["severity"] == "error"]
    assert [f["code"] for f in errors] == ["input-type-not-allowed"]
    assert doc["summary"]["error"] == 0  # the image itself is fine; the request is not


def test_output_dimension_outside_the_four_sizes_is_a_request_error(
    clean: tuple[Path, dict[str, set[str]]],
) -> None:
    run = check(clean[0] / "nested", "--output-dimension", "768", "--json")
    assert run.status == 1
    assert [f["code"] for f in run.json()["findings"]] == ["output-dimension-unsupported"]
    ok = check(clean[0] / "nested", "--output-dimension", "256", "--json")
    assert ok.status == 0
    assert ok.json()["findings"] == []


# --------------------------------------------------------------------------------------------
# The bundled samples, and names that are not UTF-8


def test_bundled_samples(tmp_path: Path) -> None:
    samples = samples_dir()
    assert samples.is_dir()
    as_json = check(samples, "--json")
    doc = as_json.json()
    check_contract(doc, "embed-v4.0", "search_document")
    has_error = doc["summary"]["error"] > 0 or any(
        f["severity"] == "error" for f in doc["findings"]
    )
    assert as_json.status == (1 if has_error else 0)
    assert check_sent_by_preparing_again(doc, Settings()) > 0
    table = check(samples)
    assert table.status == as_json.status
    codes = {f["code"] for i in doc["items"] for f in i["findings"]}
    codes |= {f["code"] for f in doc["findings"]}
    assert codes, "the samples are there to show findings"
    for code in codes:
        assert code in table.out, code


@pytest.fixture
def odd_names(tmp_path: Path) -> Path:
    folder = tmp_path / "odd"
    folder.mkdir()
    try:
        odd = os.path.join(os.fsencode(folder), b"caf\xe9-\xff.png")
        with open(odd, "wb") as file:
            file.write(g.encoded(g.photo(120, 90), "PNG"))
    except (OSError, UnicodeError) as exc:  # a file system that insists on valid names
        pytest.skip(f"cannot create a file with a non-UTF-8 name here: {exc}")
    g.save(g.photo(120, 90, seed=3), folder / "plain.jpg", "JPEG", quality=85)
    return folder


def test_non_utf8_file_names_print_in_the_table_and_the_json(odd_names: Path) -> None:
    table = check(odd_names)
    assert table.status == 0, table.err
    assert "caf\\xe9-\\xff.png" in table.out
    assert "plain.jpg" in table.out
    as_json = check(odd_names, "--json")
    assert as_json.status == 0, as_json.err
    doc = as_json.json()
    check_contract(doc, "embed-v4.0", "search_document")
    names = sorted(os.path.basename(i["path"]) for i in doc["items"])
    assert names == ["caf\\xe9-\\xff.png", "plain.jpg"]
    assert all(i["status"] == "ok" for i in doc["items"])
    assert check_sent_by_preparing_again(doc, Settings()) == 2
