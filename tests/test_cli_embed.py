"""``embed-studio embed`` run as a real command against the emulator on loopback.

Every test starts the installed command in a subprocess, with the key in ``CO_API_KEY`` and the
store in the test's own folder, and then reads back what it wrote with the reader each format
is made for. Vectors are checked against what the emulator derives from the bytes that were
sent, so a row holding another image's vector, or a file sent in the wrong form, fails.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pytest

from desktop.core.images import probe_file
from desktop.core.models import MODELS, Settings
from desktop.core.prepare import prepare
from desktop.core.store import STORE_FILE_NAME, Store, VectorKey
from desktop.emulator import Emulator, FaultPlan, FaultSettings, RequestRecord, expected_vector
from tests import imagegen as g
from tests.conftest import TEST_KEY

COMMAND = Path(sys.executable).with_name("embed-studio")
EMBED = "/v2/embed"
CHECK_KEY = "/v1/check-api-key"
V4 = "embed-v4.0"
V3 = "embed-english-v3.0"
#: A command that hangs is a failure, not a stuck suite.
RUN_TIMEOUT = 120.0
#: Metadata columns the CSV and the Projector's metadata file carry before the vector.
PROVENANCE_COLUMNS = ("sha256", "width", "height", "model", "input_type", "embedding_type")


# --------------------------------------------------------------------------------------------
# Running the command


@dataclass(frozen=True)
class Run:
    """What the command did."""

    status: int
    out: str
    err: str


def child_env(data_dir: Path, key: str | None = TEST_KEY) -> dict[str, str]:
    """The child's environment: its own store, *key* in ``CO_API_KEY``, and no keyring."""
    env = {k: v for k, v in os.environ.items() if k not in ("CO_API_KEY", "CO_API_URL")}
    env["EMBED_STUDIO_DATA_DIR"] = os.fspath(data_dir)
    # The null backend has no entry and never reaches the user's real keyring.
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    if key is not None:
        env["CO_API_KEY"] = key
    return env


def command(*args: str | os.PathLike[str]) -> list[str]:
    """The argument list of ``embed-studio embed ARGS``."""
    assert COMMAND.exists(), f"the embed-studio command is not installed beside {sys.executable}"
    return [os.fspath(COMMAND), "embed", *(os.fspath(a) for a in args)]


def embed(env: dict[str, str], *args: str | os.PathLike[str]) -> Run:
    """Run ``embed-studio embed ARGS`` to the end; its output must be valid UTF-8."""
    done = subprocess.run(
        command(*args), capture_output=True, timeout=RUN_TIMEOUT, env=env, check=False
    )
    return Run(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))


def assert_no_traceback(run: Run) -> None:
    assert "Traceback" not in run.err, run.err
    assert "Traceback" not in run.out, run.out


def wait_until(
    condition: Callable[[], bool], proc: subprocess.Popen[bytes], what: str, timeout: float = 60
) -> None:
    """Poll *condition* while *proc* runs; fail if it ends first or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the command ended (status {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:g} s waiting for {what}")
        # The poll interval: returns at once if the child ends meanwhile.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0.02)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def embed_requests(emu: Emulator) -> list[RequestRecord]:
    return [r for r in emu.requests if r.path == EMBED]


def billed_sha256(emu: Emulator) -> list[str]:
    """The digests of every image billed so far, once per billing."""
    return [sha for r in embed_requests(emu) if r.billed_images for sha in r.image_sha256]


# --------------------------------------------------------------------------------------------
# What should come out: the bytes each file sends, and the vector those bytes get


@dataclass(frozen=True)
class Expected:
    """One row the export must hold."""

    path: str
    sent: bytes
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sent).hexdigest()

    def vector(self, model: str = V4, input_type: str | None = None) -> npt.NDArray[np.float32]:
        spec = MODELS[model]
        kind = input_type or spec.default_input_type.value
        return expected_vector(self.sent, model, kind, spec.default_dimension)


def passed_through(path: Path) -> Expected:
    """A file sent as it is: its own bytes travel."""
    probe = probe_file(path)
    return Expected(os.fspath(path), path.read_bytes(), probe.width, probe.height)


def transformed(path: Path, settings: Settings) -> Expected:
    """A file the app must convert: the bytes preparing it again gives."""
    prepared = prepare(probe_file(path), settings)
    assert not prepared.unchanged, f"{path.name} was meant to be converted before sending"
    return Expected(os.fspath(path), prepared.data, prepared.width, prepared.height)


@dataclass(frozen=True)
class MixedFolder:
    """A folder of awkward images, the rows its export must hold, and the one in error."""

    root: Path
    rows: list[Expected]
    broken: Path


def make_mixed_folder(root: Path) -> MixedFolder:
    """Twelve images: pass-through ones, converted ones, a duplicate and a truncated JPEG."""
    root.mkdir(parents=True)
    g.save(g.photo(160, 120, seed=1), root / "a-photo.jpg", "JPEG", quality=88)
    g.save(g.graphic(150, 100, seed=2), root / "b-graphic.png", "PNG")
    g.jpeg_with_orientation(root / "c-sideways.jpg", 120, 80, 6)
    g.save(g.photo(120, 90, seed=3), root / "d-scan.bmp", "BMP")
    shutil.copyfile(root / "a-photo.jpg", root / "e-photo-again.jpg")
    whole = g.encoded(g.photo(300, 200, seed=4), "JPEG", quality=90)
    (root / "f-cut.jpg").write_bytes(whole[: len(whole) // 2])
    g.save(g.photo(100, 100, seed=5), root / "g-photo.webp", "WEBP", quality=80)
    g.save(g.graphic(90, 90, seed=6).convert("P"), root / "h-still.gif", "GIF")
    g.png16(root / "i-grey16.png", 120, 90)
    g.save(g.photo(130, 100, seed=7), root / "j-photo.png", "PNG")
    g.save(g.photo(140, 100, seed=8), root / "k-photo.jpg", "JPEG", quality=85)
    g.cmyk_jpeg(root / "l-print.jpg", 120, 90)
    settings = Settings()
    rows = [
        passed_through(root / "a-photo.jpg"),
        passed_through(root / "b-graphic.png"),
        transformed(root / "c-sideways.jpg", settings),
        transformed(root / "d-scan.bmp", settings),
        passed_through(root / "e-photo-again.jpg"),
        passed_through(root / "g-photo.webp"),
        passed_through(root / "h-still.gif"),
        transformed(root / "i-grey16.png", settings),
        passed_through(root / "j-photo.png"),
        passed_through(root / "k-photo.jpg"),
        transformed(root / "l-print.jpg", settings),
    ]
    return MixedFolder(root, rows, root / "f-cut.jpg")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> MixedFolder:
    return make_mixed_folder(tmp_path_factory.mktemp("embed") / "mixed")


# --------------------------------------------------------------------------------------------
# Reading each format back with its natural reader


@dataclass
class Table:
    """An export read back: rows in file order, and the run's provenance.

    ``widths``/``heights`` are ``None`` for formats that do not carry them.
    """

    paths: list[str]
    sha256: list[str]
    vectors: npt.NDArray[Any]
    provenance: dict[str, Any]
    widths: list[int] | None = None
    heights: list[int] | None = None


def _row_provenance(rows: list[dict[str, str]]) -> dict[str, Any]:
    """The provenance the CSV-like rows repeat; every row must repeat the same."""
    fields = ("model", "input_type", "embedding_type", "endpoint", "emulated")
    seen = {tuple(row[f] for f in fields) for row in rows}
    assert len(seen) == 1, f"rows disagree on their provenance: {seen}"
    values = dict(zip(fields, seen.pop(), strict=True))
    return values | {"emulated": {"true": True, "false": False}[values["emulated"]]}


def read_csv(out: Path, dimension: int) -> Table:
    with out.open(newline="", encoding="utf-8") as f:
        cells = list(csv.reader(f))
    header, body = cells[0], cells[1:]
    assert header[0] == "path", header[:3]
    vector_columns = [f"e{n}" for n in range(dimension)]
    assert header[-dimension:] == vector_columns, "the vector columns must be e0 .. e{D-1}"
    metadata = header[:-dimension]
    assert set(PROVENANCE_COLUMNS) <= set(metadata), metadata
    assert all(len(row) == len(header) for row in body), "every row has every column"
    rows = [dict(zip(metadata, row, strict=False)) for row in body]
    return Table(
        paths=[r["path"] for r in rows],
        sha256=[r["sha256"] for r in rows],
        vectors=np.array([row[len(metadata) :] for row in body], dtype=np.float32),
        provenance=_row_provenance(rows) | {"output_dimension": dimension},
        widths=[int(r["width"]) for r in rows],
        heights=[int(r["height"]) for r in rows],
    )


def _json_items(items: list[dict[str, Any]], provenance: dict[str, Any]) -> Table:
    for item in items:
        assert set(item["embeddings"]) == set(provenance["embedding_types"]), item["embeddings"]
        source = hashlib.sha256(Path(item["path"]).read_bytes()).hexdigest()
        assert item["source_sha256"] == source, "source_sha256 is of the file itself"
    return Table(
        paths=[i["path"] for i in items],
        sha256=[i["sha256"] for i in items],
        vectors=np.array([i["embeddings"]["float"] for i in items], dtype=np.float32),
        provenance=provenance | {"embedding_type": provenance["embedding_types"][0]},
        widths=[i["width"] for i in items],
        heights=[i["height"] for i in items],
    )


SETTINGS_KEYS = ("model", "input_type", "output_dimension", "embedding_types", "created")


def read_json(out: Path, dimension: int) -> Table:
    doc = orjson.loads(out.read_bytes())
    assert set(SETTINGS_KEYS) | {"items"} <= set(doc), sorted(doc)
    provenance = {k: v for k, v in doc.items() if k != "items"}
    return _json_items(doc["items"], provenance)


def read_jsonl(out: Path, dimension: int) -> Table:
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    item_keys = {"path", "sha256", "source_sha256", "width", "height", "embeddings"}
    settings = [{k: v for k, v in line.items() if k not in item_keys} for line in lines]
    assert all(s == settings[0] for s in settings), "each line repeats the same settings"
    assert set(SETTINGS_KEYS) <= set(settings[0]), sorted(settings[0])
    items = [{k: line[k] for k in item_keys} for line in lines]
    return _json_items(items, settings[0])


def read_npy(out: Path, dimension: int) -> Table:
    vectors = np.load(out, allow_pickle=False)
    side = orjson.loads(out.with_name(out.name + ".json").read_bytes())
    assert vectors.dtype == np.float32
    assert list(vectors.shape) == side["shape"], (vectors.shape, side["shape"])
    return Table(paths=side["ids"], sha256=side["sha256"], vectors=vectors, provenance=side)


def read_npz(out: Path, dimension: int) -> Table:
    with np.load(out, allow_pickle=False) as archive:
        assert {"vectors", "ids", "sha256", "provenance"} <= set(archive.files), archive.files
        vectors = archive["vectors"]
        paths = [str(p) for p in archive["ids"]]
        sha = [str(s) for s in archive["sha256"]]
        provenance = orjson.loads(str(archive["provenance"]))
    assert vectors.dtype == np.float32
    return Table(paths=paths, sha256=sha, vectors=vectors, provenance=provenance)


def read_tsv(out: Path, dimension: int) -> Table:
    # The Projector's vectors file has no header: every line is numbers only.
    lines = out.read_text(encoding="utf-8").splitlines()
    vectors = np.array([line.split("\t") for line in lines], dtype=np.float32)
    metadata_path = out.with_name(f"{out.stem}.metadata.tsv")
    with metadata_path.open(newline="", encoding="utf-8") as f:
        cells = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header, body = cells[0], cells[1:]
    # Two or more metadata columns: exactly one header row, then one line per vector.
    assert len(header) >= 2
    assert header[0] == "path"
    assert set(PROVENANCE_COLUMNS) <= set(header), header
    assert len(body) == len(lines), "one metadata line per vector line"
    rows = [dict(zip(header, row, strict=True)) for row in body]
    return Table(
        paths=[r["path"] for r in rows],
        sha256=[r["sha256"] for r in rows],
        vectors=vectors,
        provenance=_row_provenance(rows) | {"output_dimension": vectors.shape[1]},
        widths=[int(r["width"]) for r in rows],
        heights=[int(r["height"]) for r in rows],
    )


READERS: dict[str, Callable[[Path, int], Table]] = {
    "csv": read_csv,
    "json": read_json,
    "jsonl": read_jsonl,
    "npy": read_npy,
    "npz": read_npz,
    "tsv": read_tsv,
}


def check_table(
    table: Table,
    rows: list[Expected],
    endpoint: str,
    *,
    model: str = V4,
    input_type: str = "search_document",
) -> None:
    """*table* holds exactly *rows*, in order, with the vectors their sent bytes get."""
    dimension = MODELS[model].default_dimension
    assert table.paths == [r.path for r in rows]
    assert table.sha256 == [r.sha256 for r in rows], "sha256 is of the bytes that were SENT"
    if table.widths is not None and table.heights is not None:
        assert table.widths == [r.width for r in rows], "width is of what was sent"
        assert table.heights == [r.height for r in rows], "height is of what was sent"
    assert table.vectors.shape == (len(rows), dimension)
    for row, got in zip(rows, table.vectors, strict=True):
        np.testing.assert_array_equal(
            got, row.vector(model, input_type), err_msg=f"wrong vector for {row.path}"
        )
    p = table.provenance
    assert p["model"] == model
    assert p["input_type"] == input_type
    assert p["output_dimension"] == dimension
    assert p["embedding_type"] == "float"
    assert p["endpoint"] == endpoint
    assert p["emulated"] is True, "the emulator's vectors must be labelled as not Cohere's"


# --------------------------------------------------------------------------------------------
# Formats


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_every_format_holds_each_sendable_image_in_order_with_its_vector(
    fmt: str, mixed: MixedFolder, emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / f"vectors.{fmt}"

    run = embed(
        child_env(tmp_path / "data"), mixed.root, "--out", out, "--base-url", emulator.base_url
    )

    assert_no_traceback(run)
    assert run.status == 1, f"an item is in error, so the exit status is 1\n{run.err}"
    not_sent = [line for line in run.err.splitlines() if mixed.broken.name in line]
    assert len(not_sent) == 1, run.err
    assert "unreadable" in not_sent[0], "the item in error is listed with its code"
    check_table(READERS[fmt](out, 1536), mixed.rows, emulator.base_url)
    # The duplicate has its own row but travelled once; the truncated file never travelled.
    distinct = {r.sha256 for r in mixed.rows}
    assert sorted(billed_sha256(emulator)) == sorted(distinct)


def test_a_folder_without_errors_exits_0(emulator: Emulator, tmp_path: Path) -> None:
    files = g.photo_folder(tmp_path / "in", 3, width=80, height=60)
    out = tmp_path / "vectors.csv"

    run = embed(
        child_env(tmp_path / "data"), tmp_path / "in", "--out", out, "--base-url", emulator.base_url
    )

    assert run.status == 0, run.err
    check_table(read_csv(out, 1536), [passed_through(f) for f in files], emulator.base_url)


def test_int8_and_binary_together_are_both_written_and_agree_with_the_float_vector(
    emulator: Emulator, tmp_path: Path
) -> None:
    files = g.photo_folder(tmp_path / "in", 3, width=80, height=60)
    out = tmp_path / "vectors.json"

    run = embed(
        child_env(tmp_path / "data"),
        tmp_path / "in",
        "--out",
        out,
        "--base-url",
        emulator.base_url,
        "--embedding-type",
        "int8",
        "--embedding-type",
        "binary",
    )

    assert run.status == 0, run.err
    doc = orjson.loads(out.read_bytes())
    assert doc["embedding_types"] == ["int8", "binary"]
    assert [i["path"] for i in doc["items"]] == [os.fspath(f) for f in files]
    for item, file in zip(doc["items"], files, strict=True):
        assert set(item["embeddings"]) == {"int8", "binary"}, "both types, and no float"
        floats = passed_through(file).vector().astype(np.float64)
        int8 = np.array(item["embeddings"]["int8"])
        binary = np.array(item["embeddings"]["binary"])
        assert int8.shape == (1536,)
        assert binary.shape == (1536 // 8,), "binary is packed eight dimensions to a byte"
        assert int8.min() >= -128
        assert int8.max() <= 127
        assert binary.min() >= -128
        assert binary.max() <= 127
        # int8 is the float vector scaled so its largest magnitude is 127, then rounded.
        scaled = floats * 127 / np.abs(floats).max()
        assert np.abs(int8 - scaled).max() <= 0.5 + 1e-4, file.name
        # binary holds the sign bits (first dimension in the high bit), offset by -128.
        bits = np.unpackbits((binary + 128).astype(np.uint8))
        np.testing.assert_array_equal(bits, (floats > 0).astype(np.uint8), err_msg=file.name)
        # So the two types agree with each other wherever int8 is not rounded to zero.
        nonzero = int8 != 0
        np.testing.assert_array_equal(bits[nonzero] == 1, int8[nonzero] > 0)


def test_v3_works_and_sends_one_image_per_request(emulator: Emulator, tmp_path: Path) -> None:
    files = g.photo_folder(tmp_path / "in", 4, width=80, height=60)
    out = tmp_path / "vectors.json"

    run = embed(
        child_env(tmp_path / "data"),
        tmp_path / "in",
        "--out",
        out,
        "--base-url",
        emulator.base_url,
        "--model",
        V3,
    )

    assert run.status == 0, run.err
    requests = embed_requests(emulator)
    assert [r.images for r in requests] == [1, 1, 1, 1], "a v3 model takes one image a request"
    assert all(r.status == 200 for r in requests)
    rows = [passed_through(f) for f in files]
    check_table(read_json(out, 1024), rows, emulator.base_url, model=V3, input_type="image")


def test_the_same_command_twice_sends_nothing_the_second_time(
    emulator: Emulator, tmp_path: Path
) -> None:
    files = g.photo_folder(tmp_path / "in", 5, width=80, height=60)
    out = tmp_path / "vectors.csv"
    env = child_env(tmp_path / "data")
    args = (tmp_path / "in", "--out", out, "--base-url", emulator.base_url)

    first = embed(env, *args)
    assert first.status == 0, first.err
    sent_first = len(embed_requests(emulator))
    written_first = out.read_bytes()
    second = embed(env, *args)

    assert second.status == 0, second.err
    assert sent_first >= 1
    assert len(embed_requests(emulator)) == sent_first, "the second run re-sent images"
    assert out.read_bytes() == written_first, "the vectors from the store are the same"
    check_table(read_csv(out, 1536), [passed_through(f) for f in files], emulator.base_url)


# --------------------------------------------------------------------------------------------
# Keys, endpoints and connections


def files_under(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


def test_a_refused_key_stops_with_the_servers_words_and_the_key_is_never_written(
    tmp_path: Path,
) -> None:
    g.photo_folder(tmp_path / "in", 3, width=80, height=60)
    out = tmp_path / "vectors.json"

    with Emulator(keys={"other"}) as emu:
        run = embed(
            child_env(tmp_path / "data"), tmp_path / "in", "--out", out, "--base-url", emu.base_url
        )
        requests = emu.requests

    assert_no_traceback(run)
    assert run.status == 1
    assert "refused" in run.err.lower(), run.err
    assert "invalid api token" in run.err, "the server's own words are shown"
    assert [r.path for r in requests if r.path == EMBED] == [], "nothing is sent with a bad key"
    assert TEST_KEY not in run.out
    assert TEST_KEY not in run.err
    written = list(files_under(tmp_path / "data")) + list(tmp_path.glob("vectors*"))
    assert any(p.name == STORE_FILE_NAME for p in written), "the scan must cover the store"
    for path in files_under(tmp_path):
        assert TEST_KEY.encode() not in path.read_bytes(), f"the key was written to {path}"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.slow
def test_a_server_that_refuses_the_connection_gives_a_plain_message(tmp_path: Path) -> None:
    # Slow: a refused connection is retried with backoff (about 15 to 30 s) before giving up.
    g.photo_folder(tmp_path / "in", 2, width=80, height=60)

    run = embed(
        child_env(tmp_path / "data"),
        tmp_path / "in",
        "--out",
        tmp_path / "vectors.csv",
        "--base-url",
        f"http://127.0.0.1:{closed_port()}",
    )

    assert_no_traceback(run)
    assert run.status == 1
    assert "could not connect" in run.err.lower(), run.err


def test_no_key_anywhere_is_a_usage_error_that_says_where_to_put_one(tmp_path: Path) -> None:
    g.photo_folder(tmp_path / "in", 1, width=80, height=60)

    run = embed(
        child_env(tmp_path / "data", key=None),
        tmp_path / "in",
        "--out",
        tmp_path / "vectors.csv",
        "--base-url",
        "http://127.0.0.1:9",
    )

    assert_no_traceback(run)
    assert run.status == 2
    assert "CO_API_KEY" in run.err, run.err
    assert "keyring" in run.err, run.err
    assert not (tmp_path / "vectors.csv").exists()


def test_a_base_url_ending_in_v2_is_fixed_with_a_note(emulator: Emulator, tmp_path: Path) -> None:
    files = g.photo_folder(tmp_path / "in", 2, width=80, height=60)
    out = tmp_path / "vectors.json"

    run = embed(
        child_env(tmp_path / "data"),
        tmp_path / "in",
        "--out",
        out,
        "--base-url",
        emulator.base_url + "/v2",
    )

    assert run.status == 0, run.err
    assert "'/v2'" in run.err, "the user is told what was fixed"
    assert {r.path for r in emulator.requests} == {CHECK_KEY, EMBED}, "no /v2/v2/embed"
    check_table(read_json(out, 1536), [passed_through(f) for f in files], emulator.base_url)


def test_an_ftp_base_url_is_a_usage_error(emulator: Emulator, tmp_path: Path) -> None:
    g.photo_folder(tmp_path / "in", 1, width=80, height=60)
    out = tmp_path / "vectors.csv"

    run = embed(
        child_env(tmp_path / "data"),
        tmp_path / "in",
        "--out",
        out,
        "--base-url",
        "ftp://127.0.0.1/",
    )

    assert_no_traceback(run)
    assert run.status == 2
    assert "ftp://127.0.0.1/" in run.err, "the message names the URL it refuses"
    assert not out.exists()
    assert emulator.requests == []


# --------------------------------------------------------------------------------------------
# Interrupted runs

SLOW_IMAGES = 40
SLOW_CONCURRENCY = 2


@pytest.fixture
def slow_emulator() -> Iterator[Emulator]:
    with Emulator(faults=FaultPlan(FaultSettings(latency_ms=150))) as emu:
        yield emu


@dataclass(frozen=True)
class SlowRun:
    """A v3 run of 40 images, two requests at a time, against a slow emulator."""

    rows: list[Expected]
    env: dict[str, str]
    args: tuple[str | os.PathLike[str], ...]
    out: Path
    store: Path
    endpoint: str

    def start(self, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as sink:
            return subprocess.Popen(
                command(*self.args), env=self.env, stdout=sink, stderr=subprocess.STDOUT
            )

    def stored_sha256(self) -> set[str]:
        """The images whose vector the store holds (read with the app's own store)."""
        keys = {
            r.sha256: VectorKey(r.sha256, V3, "image", 1024, "float", self.endpoint)
            for r in self.rows
        }
        with Store(self.store) as store:
            missing = {k.sha256 for k in store.missing(keys.values())}
        return set(keys) - missing

    def run_statuses(self) -> list[str]:
        """The status the store recorded for each run, oldest first."""
        with Store(self.store) as store:
            return [run.status for run in sorted(store.runs(), key=lambda r: r.id)]


@pytest.fixture
def slow_run(slow_emulator: Emulator, tmp_path: Path) -> SlowRun:
    files = g.photo_folder(tmp_path / "in", SLOW_IMAGES, width=80, height=60)
    out = tmp_path / "vectors.npy"
    args = (
        tmp_path / "in",
        "--out",
        out,
        "--base-url",
        slow_emulator.base_url,
        "--model",
        V3,
        "--concurrency",
        str(SLOW_CONCURRENCY),
    )
    return SlowRun(
        rows=[passed_through(f) for f in files],
        env=child_env(tmp_path / "data"),
        args=args,
        out=out,
        store=tmp_path / "data" / STORE_FILE_NAME,
        endpoint=slow_emulator.base_url,
    )


def integrity(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


def test_a_run_killed_midway_resumes_without_resending_what_was_stored(
    slow_run: SlowRun, slow_emulator: Emulator, tmp_path: Path
) -> None:
    proc = slow_run.start(tmp_path / "first.log")
    try:
        wait_until(lambda: slow_emulator.billed_images >= 8, proc, "8 images were billed")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(RUN_TIMEOUT) == -signal.SIGKILL, "the child was killed while running"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    billed_at_kill = set(billed_sha256(slow_emulator))
    assert len(billed_at_kill) < SLOW_IMAGES, "the kill came before the end"

    assert integrity(slow_run.store) == "ok"
    stored = slow_run.stored_sha256()
    assert stored <= billed_at_kill, "the store holds only what the server answered"
    assert len(billed_at_kill - stored) <= SLOW_CONCURRENCY, "only the requests in flight are lost"
    assert not slow_run.out.exists(), "no half-written export"

    log = tmp_path / "second.log"
    second = slow_run.start(log)
    assert second.wait(RUN_TIMEOUT) == 0, log.read_text()

    times_billed = Counter(billed_sha256(slow_emulator))
    assert set(times_billed) == {r.sha256 for r in slow_run.rows}, "every image was embedded"
    assert all(times_billed[sha] == 1 for sha in stored), "a stored vector was paid for twice"
    assert slow_emulator.billed_images <= SLOW_IMAGES + SLOW_CONCURRENCY
    assert integrity(slow_run.store) == "ok"
    check_table(
        read_npy(slow_run.out, 1024), slow_run.rows, slow_run.endpoint, model=V3, input_type="image"
    )


def test_ctrl_c_exits_130_keeps_what_arrived_and_a_rerun_completes(
    slow_run: SlowRun, slow_emulator: Emulator, tmp_path: Path
) -> None:
    log = tmp_path / "first.log"
    proc = slow_run.start(log)
    try:
        wait_until(lambda: slow_emulator.billed_images >= 4, proc, "4 images were billed")
        proc.send_signal(signal.SIGINT)
        # A deadline, not a measurement: the requests in flight take 150 ms each.
        status = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert status == 130, text
    assert "Traceback" not in text, text

    # The child has ended, and cancelling waited for its requests in flight: the ledger is
    # complete, and everything billed must have been stored.
    billed = set(billed_sha256(slow_emulator))
    assert 4 <= len(billed) < SLOW_IMAGES, "the interrupt came during the run"
    assert slow_run.stored_sha256() == billed
    assert slow_run.run_statuses() == ["cancelled"]
    assert integrity(slow_run.store) == "ok"

    log = tmp_path / "second.log"
    second = slow_run.start(log)
    assert second.wait(RUN_TIMEOUT) == 0, log.read_text()
    times_billed = Counter(billed_sha256(slow_emulator))
    assert set(times_billed) == {r.sha256 for r in slow_run.rows}, "every image was embedded"
    assert set(times_billed.values()) == {1}, "the rerun sent only what was not stored"
    check_table(
        read_npy(slow_run.out, 1024), slow_run.rows, slow_run.endpoint, model=V3, input_type="image"
    )
