"""Exports, re-read with each format's natural reader and checked against the store."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
import pytest

from desktop.core.export import (
    METADATA_COLUMNS,
    ExportError,
    ExportItem,
    ExportSettings,
    export,
    npy_sidecar_path,
    projector_metadata_path,
)
from desktop.core.store import EmbeddingRow, Store

MODEL = "embed-v4.0"
INPUT_TYPE = "search_document"
DIM = 64
ENDPOINT = "http://127.0.0.1:8123/"  # as typed; exports write it normalised
NORMALISED_ENDPOINT = "http://127.0.0.1:8123"
ALL_TYPES = ("float", "int8", "uint8", "binary", "ubinary", "base64")
SETTINGS = ExportSettings(MODEL, INPUT_TYPE, DIM, ALL_TYPES, ENDPOINT, emulated=True)

NON_UTF8 = os.fsdecode(b"shots/caf\xe9 \xff.png")
PATHS = (
    "photos/cat.jpg",
    '=HYPERLINK("http://evil.example","x").png',
    "-2+3.jpg",
    "@sum.png",
    'odd, "quoted"\nnew\tline.webp',
    NON_UTF8,
    "+plus.gif",
)


def sha(n: int) -> str:
    return hashlib.sha256(f"sent-{n}".encode()).hexdigest()


@dataclass
class Stored:
    """What the test put in the store, per item."""

    item: ExportItem
    values: dict[str, Any]


def api_values(rng: np.random.Generator) -> dict[str, Any]:
    floats = rng.standard_normal(DIM).astype(np.float32) * np.float32(0.05)
    return {
        "float": floats.tolist(),
        "int8": rng.integers(-128, 128, DIM).tolist(),
        "uint8": rng.integers(0, 256, DIM).tolist(),
        "binary": rng.integers(-128, 128, DIM // 8).tolist(),
        "ubinary": rng.integers(0, 256, DIM // 8).tolist(),
        "base64": base64.b64encode(floats.astype("<f4").tobytes()).decode("ascii"),
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "store.sqlite3") as opened:
        yield opened


@pytest.fixture
def stored(store: Store) -> list[Stored]:
    """Seven items with every type stored; the third has no width/height of its own."""
    rng = np.random.default_rng(42)
    run = store.start_run(MODEL, INPUT_TYPE, DIM, ALL_TYPES, ENDPOINT)
    result: list[Stored] = []
    rows: list[EmbeddingRow] = []
    for n, path in enumerate(PATHS):
        values = api_values(rng)
        rows.append(
            EmbeddingRow(sha(n), path, MODEL, INPUT_TYPE, DIM, ENDPOINT, values, 300 + n, 200)
        )
        known = n != 2
        item = ExportItem(path, sha(n), f"src{n}", 30 + n if known else None, 20 if known else None)
        result.append(Stored(item, values))
    store.save_batch(run, rows)
    return result


def with_missing(stored: list[Stored]) -> list[ExportItem]:
    """The stored items with two never-embedded ones among them."""
    items = [s.item for s in stored]
    items.insert(1, ExportItem("never/sent.jpg", sha(100)))
    items.append(ExportItem("also/missing.jpg", sha(101)))
    return items


def width_of(s: Stored) -> int:
    # The item's own size, else the one the response reported (300 + n for item n).
    return s.item.width if s.item.width is not None else 300 + PATHS.index(s.item.path)


def height_of(s: Stored) -> int:
    return s.item.height if s.item.height is not None else 200


def shown_path(path: str) -> str:
    return path.replace("\udce9", "\\xe9").replace("\udcff", "\\xff")


def escaped(path: str) -> str:
    text = shown_path(path)
    return "'" + text if text[0] in "=+-@\t\r" else text


def float32(values: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


@overload
def decoded(value: str) -> np.ndarray: ...
@overload
def decoded(value: list[Any]) -> np.ndarray: ...
def decoded(value: str | list[Any]) -> np.ndarray:
    if isinstance(value, str):
        return np.frombuffer(base64.b64decode(value), dtype="<f4")
    return np.asarray(value)


def significant_digits(text: str) -> str:
    return text.lower().split("e")[0].lstrip("-").replace(".", "").strip("0")


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_has_the_contract_header_and_the_right_vector_per_row(
    store: Store, stored: list[Stored], tmp_path: Path
) -> None:
    target = tmp_path / "out.csv"
    summary = export(store, with_missing(stored), SETTINGS, target)

    header, *rows = read_csv(target)
    assert header == [*METADATA_COLUMNS, *(f"e{i}" for i in range(DIM))]
    assert header[0] == "path"
    assert len(rows) == len(stored)
    for row, s in zip(rows, stored, strict=True):
        meta = dict(zip(METADATA_COLUMNS, row, strict=False))
        assert meta["path"] == escaped(s.item.path)
        assert meta["sha256"] == s.item.sha256_sent
        assert (meta["width"], meta["height"]) == (str(width_of(s)), str(height_of(s)))
        assert (meta["model"], meta["input_type"]) == (MODEL, INPUT_TYPE)
        assert (meta["embedding_type"], meta["endpoint"], meta["emulated"]) == (
            "float",
            NORMALISED_ENDPOINT,
            "true",
        )
        cells = row[len(METADATA_COLUMNS) :]
        assert np.array_equal(float32([float(c) for c in cells]), float32(s.values["float"]))
        for cell, value in zip(cells, float32(s.values["float"]), strict=True):
            assert significant_digits(cell) == significant_digits(str(value))
    assert (summary.paths, summary.rows, summary.skipped_missing) == ((target,), 7, 2)
    assert (summary.embedding_types, summary.dimension) == (("float",), DIM)


def test_csv_escapes_formula_cells_and_keeps_awkward_paths_intact(
    store: Store, stored: list[Stored], tmp_path: Path
) -> None:
    target = tmp_path / "out.csv"
    export(store, [s.item for s in stored], SETTINGS, target)

    paths = [row[0] for row in read_csv(target)[1:]]
    assert paths[1] == '\'=HYPERLINK("http://evil.example","x").png'
    assert paths[2] == "'-2+3.jpg"
    assert paths[3] == "'@sum.png"
    assert paths[6] == "'+plus.gif"
    assert paths[0] == "photos/cat.jpg"
    assert paths[4] == 'odd, "quoted"\nnew\tline.webp'
    assert paths[5] == "shots/caf\\xe9 \\xff.png"
    target.read_bytes().decode("utf-8")  # strict: the file is valid UTF-8 throughout


@pytest.mark.parametrize("embedding_type", ["int8", "uint8", "binary", "ubinary"])
def test_csv_of_integer_types_holds_the_api_integers(
    store: Store, stored: list[Stored], tmp_path: Path, embedding_type: str
) -> None:
    target = tmp_path / "out.csv"
    summary = export(
        store, [s.item for s in stored], SETTINGS, target, embedding_type=embedding_type
    )

    header, *rows = read_csv(target)
    width = DIM // 8 if embedding_type.endswith("binary") else DIM
    assert header[len(METADATA_COLUMNS) :] == [f"e{i}" for i in range(width)]
    for row, s in zip(rows, stored, strict=True):
        assert row[METADATA_COLUMNS.index("embedding_type")] == embedding_type
        assert [int(c) for c in row[len(METADATA_COLUMNS) :]] == s.values[embedding_type]
    assert summary.embedding_types == (embedding_type,)


def test_csv_of_base64_is_one_column_that_decodes_to_the_floats(
    store: Store, stored: list[Stored], tmp_path: Path
) -> None:
    target = tmp_path / "out.csv"
    export(store, [s.item for s in stored], SETTINGS, target, embedding_type="base64")

    header, *rows = read_csv(target)
    assert header == [*METADATA_COLUMNS, "base64"]
    for row, s in zip(rows, stored, strict=True):
        cell = row[-1]
        # A leading ' (not in the base64 alphabet) guards a cell a spreadsheet would evaluate.
        text = cell[1:] if cell.startswith("'") else cell
        assert text == s.values["base64"]
        assert np.array_equal(decoded(text), float32(s.values["float"]))


# -- JSON and JSONL ----------------------------------------------------------------------------


def check_item(obj: dict[str, Any], s: Stored, types: Sequence[str] = ALL_TYPES) -> None:
    assert obj["path"] == shown_path(s.item.path)
    assert obj["sha256"] == s.item.sha256_sent
    assert obj["source_sha256"] == s.item.source_sha256
    assert (obj["width"], obj["height"]) == (width_of(s), height_of(s))
    assert list(obj["embeddings"]) == list(types)
    for embedding_type in types:
        got, sent = obj["embeddings"][embedding_type], s.values[embedding_type]
        if embedding_type == "float":
            assert all(isinstance(v, float) for v in got)
            assert np.array_equal(float32(got), float32(sent))
        else:
            assert got == sent


def test_json_has_the_cli_shape_with_every_type_per_item(
    store: Store, stored: list[Stored], tmp_path: Path
) -> None:
    target = tmp_path / "out.json"
    summary = export(store, with_missing(stored), SETTINGS, target)

    data = json.loads(target.read_text(encoding="utf-8"))
    assert list(data) == [
        "model",
        "input_type",
        "output_dimension",
        "embedding_types",
        "created",
        "endpoint",
        "emulated",
        "items",
    ]
    assert (data["model"], data["input_type"], data["output_dimension"]) == (
        MODEL,
        INPUT_TYPE,
        DIM,
    )
    assert data["embedding_types"] == list(ALL_TYPES)
    assert (data["endpoint"], data["emulated"]) == (NORMALISED_ENDPOINT, True)
    assert data["created"].endswith("Z")
    assert len(data["items"]) == len(stored)
    for obj, s in zip(data["items"], stored, strict=True):
        check_item(obj, s)
    assert (summary.rows, summary.skipped_missing, summary.embedding_types) == (7, 2, ALL_TYPES)


def test_json_with_one_chosen_type_and_an_item_lacking_it(
    store: Store, stored: list[Stored], tmp_path: Path
) -> None:
    run = store.start_run(MODEL, INPUT_TYPE, DIM, ("float",), ENDPOINT)
    floats_only = api_values(np.random.default_rng(7))
    store.save_batch(
        run,
        [
            EmbeddingRow(
                sha(50), "f.png", MODEL, INPUT_TYPE, DIM, ENDPOINT, {"float": floats_only["float"]}
            )
        ],
    )
    items = [s.item for s in stored] + [ExportItem("f.png", sha(50))]
    target = tmp_path / "out.json"

    every = export(store, items, SETTINGS, target)
    assert (every.rows, every.skipped_missing) == (7, 1)  # f.png lacks int8, uint8 ...

    only = export(store, items, SETTINGS, target, embedding_type="int8")
    data = json.loads(target.read_bytes())
    assert data["embedding_types"] == ["int8"]
    for obj, s in zip(data["items"], stored, strict=True):
        check_item(obj, s, ("int8",))
    assert (only.rows, only.skipped_missing) == (7, 1)


def test_jsonl_repeats_the_settings_on_every_line(
    store: Store, stored: list[Stored], tmp_path: Path
) -> None:
    target = tmp_path / "out.jsonl"
    summary = export(store, with_missing(stored), SETTINGS, target)

    with target.open(encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    assert len(lines) == len(stored)
    for obj, s in zip(lines, stored, strict=True):
        assert (obj["model"], obj["input_type"], obj["output_dimension"]) == (
            MODEL,
            INPUT_TYPE,
            DIM,
        )
        assert (obj["embedding_types"], obj["endpoint"], obj["emulated"]) == (
            list(ALL_TYPES),
            NORMALISED_ENDPOINT,
            True,
        )
        check_item(obj, s)
    assert summary.skipped_missing == 2


# -- NPY and NPZ -------------------------------------------------------------------------------

_DTYPES = {
    "float": np.float32,
    "base64": np.float32,
    "int8": np.int8,
    "binary": np.int8,
    "uint8": np.uint8,
    "ubinary": np.uint8,
}


def expected_rows(stored: list[Stored], embedding_type: str) -> np.ndarray:
    source = "float" if embedding_type == "base64" else embedding_type
    return np.array([s.values[source] for s in stored], dtype=_DTYPES[embedding_type])


@pytest.mark.parametrize("embedding_type", ALL_TYPES)
def test_npy_rows_follow_the_items_with_a_provenance_sidecar(
    store: Store, stored: list[Stored], tmp_path: Path, embedding_type: str
) -> None:
    target = tmp_path / "vectors.npy"
    summary = export(store, with_missing(stored), SETTINGS, target, embedding_type=embedding_type)

    vectors = np.load(target, allow_pickle=False)
    width = DIM // 8 if embedding_type.endswith("binary") else DIM
    assert vectors.shape == (len(stored), width)
    assert vectors.dtype == _DTYPES[embedding_type]
    assert np.array_equal(vectors, expected_rows(stored, embedding_type))

    sidecar = json.loads(npy_sidecar_path(target).read_text(encoding="utf-8"))
    assert npy_sidecar_path(target) == tmp_path / "vectors.npy.json"
    assert sidecar["ids"] == [shown_path(s.item.path) for s in stored]
    assert sidecar["sha256"] == [s.item.sha256_sent for s in stored]
    assert (sidecar["model"], sidecar["input_type"], sidecar["output_dimension"]) == (
        MODEL,
        INPUT_TYPE,
        DIM,
    )
    assert (sidecar["embedding_type"], sidecar["endpoint"], sidecar["emulated"]) == (
        embedding_type,
        NORMALISED_ENDPOINT,
        True,
    )
    assert sidecar["shape"] == [len(stored), width]
    assert summary.paths == (target, npy_sidecar_path(target))
    assert (summary.rows, summary.skipped_missing) == (7, 2)


def test_npz_holds_vectors_ids_sha256_and_provenance(
    store: Store, stored: list[Stored], tmp_path: Path
) -> None:
    target = tmp_path / "vectors.npz"
    summary = export(store, with_missing(stored), SETTINGS, target)

    with np.load(target, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["ids", "provenance", "sha256", "vectors"]
        assert np.array_equal(archive["vectors"], expected_rows(stored, "float"))
        assert archive["vectors"].dtype == np.float32
        assert archive["ids"].tolist() == [shown_path(s.item.path) for s in stored]
        assert archive["sha256"].tolist() == [s.item.sha256_sent for s in stored]
        provenance = json.loads(str(archive["provenance"]))
    assert (provenance["model"], provenance["embedding_type"]) == (MODEL, "float")
    assert (provenance["endpoint"], provenance["emulated"]) == (NORMALISED_ENDPOINT, True)
    assert (summary.rows, summary.skipped_missing) == (7, 2)


# -- TF Embedding Projector --------------------------------------------------------------------


def test_projector_tsv_pair_has_n_vector_lines_and_a_header_plus_n_metadata_lines(
    store: Store, stored: list[Stored], tmp_path: Path
) -> None:
    target = tmp_path / "cats.tsv"
    summary = export(store, with_missing(stored), SETTINGS, target)

    metadata_path = projector_metadata_path(target)
    assert metadata_path == tmp_path / "cats.metadata.tsv"
    assert summary.paths == (target, metadata_path)
    with target.open(encoding="utf-8", newline="") as f:
        vector_lines = f.read().split("\n")
    assert vector_lines.pop() == ""  # the file ends with a newline
    assert len(vector_lines) == len(stored)
    for line, s in zip(vector_lines, stored, strict=True):
        cells = line.split("\t")
        assert len(cells) == DIM
        assert np.array_equal(float32([float(c) for c in cells]), float32(s.values["float"]))

    with metadata_path.open(encoding="utf-8", newline="") as f:
        metadata_lines = f.read().split("\n")
    assert metadata_lines.pop() == ""
    assert len(metadata_lines) == len(stored) + 1
    assert metadata_lines[0].split("\t") == list(METADATA_COLUMNS)
    for line, s in zip(metadata_lines[1:], stored, strict=True):
        cells = line.split("\t")
        assert len(cells) == len(METADATA_COLUMNS)
        assert cells[1] == s.item.sha256_sent
        assert cells[METADATA_COLUMNS.index("endpoint")] == NORMALISED_ENDPOINT
    assert metadata_lines[5].split("\t")[0] == 'odd, "quoted"\\nnew\\tline.webp'
    assert metadata_lines[2].split("\t")[0].startswith("'=HYPERLINK")
    assert (summary.rows, summary.skipped_missing) == (7, 2)


# -- failures ----------------------------------------------------------------------------------


class FailingItems(Sequence[ExportItem]):
    """An item list that breaks after *good* items, as a failing source would mid-export."""

    def __init__(self, items: list[ExportItem], good: int) -> None:
        self._items = items
        self._good = good

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> ExportItem: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ExportItem]: ...
    def __getitem__(self, index: int | slice) -> ExportItem | Sequence[ExportItem]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index >= self._good:
            raise RuntimeError("the item list broke")
        return self._items[index]

    def __iter__(self) -> Iterator[ExportItem]:
        for index in range(len(self)):
            yield self[index]


@pytest.mark.parametrize("name", ["out.csv", "out.json", "out.jsonl", "out.npy", "out.tsv"])
def test_a_failure_midway_leaves_the_previous_export_untouched(
    store: Store, stored: list[Stored], tmp_path: Path, name: str
) -> None:
    target = tmp_path / name
    export(store, [s.item for s in stored], SETTINGS, target)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.suffix != ".sqlite3"}
    # The first 7 items are stored, so a whole chunk is written before the list breaks at 600.
    items = [s.item for s in stored] + [ExportItem(f"x{n}.png", sha(1000 + n)) for n in range(800)]

    with pytest.raises(RuntimeError, match="broke"):
        export(store, FailingItems(items, 600), SETTINGS, target)

    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.suffix != ".sqlite3"}
    assert after == before  # same files, same bytes, no temporary file left behind


def test_an_unwritable_target_is_an_export_error_and_leaves_nothing(
    store: Store, stored: list[Stored], tmp_path: Path
) -> None:
    target = tmp_path / "no-such-folder" / "out.csv"
    with pytest.raises(ExportError, match="Could not write"):
        export(store, [s.item for s in stored], SETTINGS, target)
    assert not target.parent.exists()


def test_unknown_format_and_type_are_refused_plainly(
    store: Store, stored: list[Stored], tmp_path: Path
) -> None:
    items = [s.item for s in stored]
    with pytest.raises(ExportError, match=r"'\.xlsx'.*\.csv"):
        export(store, items, SETTINGS, tmp_path / "out.xlsx")
    with pytest.raises(ExportError, match="'parquet'"):
        export(store, items, SETTINGS, tmp_path / "out.csv", fmt="parquet")
    only_float = ExportSettings(MODEL, INPUT_TYPE, DIM, ("float",), ENDPOINT, emulated=False)
    with pytest.raises(ExportError, match="'int8' was not among"):
        export(store, items, only_float, tmp_path / "out.csv", embedding_type="int8")
    assert [p for p in tmp_path.iterdir() if not p.name.startswith("store.sqlite3")] == []


def test_fmt_overrides_the_extension_and_emulated_false_is_written(
    store: Store, stored: list[Stored], tmp_path: Path
) -> None:
    settings = ExportSettings(MODEL, INPUT_TYPE, DIM, ("float",), ENDPOINT, emulated=False)
    target = tmp_path / "vectors.txt"
    export(store, [s.item for s in stored], settings, target, fmt="jsonl")

    first = json.loads(target.read_text(encoding="utf-8").splitlines()[0])
    assert first["emulated"] is False
    check_item(first, stored[0], ("float",))


def test_vectors_of_other_settings_are_not_exported(
    store: Store, stored: list[Stored], tmp_path: Path
) -> None:
    proxy = ExportSettings(MODEL, INPUT_TYPE, DIM, ("float",), "https://api.cohere.com", False)
    other_dim = ExportSettings(MODEL, INPUT_TYPE, 256, ("float",), ENDPOINT, False)
    items = [s.item for s in stored]

    for settings in (proxy, other_dim):
        summary = export(store, items, settings, tmp_path / "out.csv")
        assert (summary.rows, summary.skipped_missing) == (0, len(items))
        assert len(read_csv(tmp_path / "out.csv")) == 1  # the header alone
