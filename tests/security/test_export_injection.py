"""File names crafted to break out of CSV, TSV or JSON are written safely by every export.

Real images are saved under hostile names (spreadsheet formulas, quotes, commas, line breaks,
tabs, backslashes, ``"}``, a data URL, bytes that are not UTF-8), embedded against the emulator
under the relative names a user would type, exported to every format, and read back with the
standard readers. Values round-trip, or are escaped exactly as desktop/core/export.py documents;
no text cell of CSV or TSV starts with ``=``, ``+``, ``-``, ``@``, tab or CR unescaped; every
row keeps its column count.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from desktop.core.assess import assess
from desktop.core.endpoint import parse_endpoint
from desktop.core.export import METADATA_COLUMNS, ExportSettings, export, projector_metadata_path
from desktop.core.models import Settings
from desktop.core.runner import RunConfig, Runner
from desktop.core.store import EmbeddingRow, Store
from desktop.emulator import Emulator
from tests.conftest import TEST_KEY
from tests.imagegen import photo, save

HOSTILE = [
    "=cmd|' /C calc'!A0.png",
    "+1.png",
    "-2.png",
    "@SUM(1).png",
    "\t=1+1.png",
    "\r=1+1.png",
    'quote"s and, commas.png',
    "line\nbreak\r\nhere.png",
    "tab\there.png",
    "back\\slash\\t.png",
    '"}],"injected":{"a":"x.png',
    'data:image/png;base64,iVBORw0KGgo=",=1+1.png',
]
#: Not UTF-8: each such byte is written as \\xNN (the export's documented policy).
NOT_UTF8 = b"=bytes-\xff\xfe-not-utf8.png"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|-?inf|nan")
SETTINGS = Settings(output_dimension=256, embedding_types=("float", "base64"))


def shown(name: str) -> str:
    """The name as the exports write it: undecodable bytes as \\xNN, the rest as it is."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def cell(name: str) -> str:
    """A text cell of CSV or TSV: a leading ' before a formula start (OWASP)."""
    text = shown(name)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@dataclass(frozen=True)
class Embedded:
    folder: Path
    names: list[str]
    store_path: Path
    settings: ExportSettings


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Embedded:
    folder = tmp_path_factory.mktemp("hostile")
    names = [*HOSTILE, os.fsdecode(NOT_UTF8)]
    for n, name in enumerate(names):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        save(photo(40, 32, seed=n), path, "PNG")
    store_path = folder.parent / f"{folder.name}.sqlite3"
    cwd = os.getcwd()
    os.chdir(folder)  # the names as a user types them, relative: the cells start with them
    try:
        assessment = assess(names, SETTINGS)
        assert [item.path for item in assessment.export_items()] == names
        with Emulator() as emu, Store(store_path) as store:
            endpoint = parse_endpoint(emu.base_url)
            config = RunConfig(SETTINGS, TEST_KEY, endpoint, seed=1)
            result = Runner(config, store).run(assessment.run_items())
    finally:
        os.chdir(cwd)
    assert (result.outcome, result.embedded) == ("completed", len(names)), result.failed
    with Store(store_path) as store:
        # A base64 vector starting with '+' (its first byte 0xF8..0xFB) must be escaped too.
        run_id = store.start_run(SETTINGS.model, "search_document", 256, ["base64"], endpoint.url)
        plus = np.frombuffer(b"\xf8" + bytes(1023), dtype="<f4")
        store.save_batch(
            run_id,
            [
                EmbeddingRow(
                    sha256="f" * 64,
                    source_path="+plus.png",
                    model=SETTINGS.model,
                    input_type="search_document",
                    output_dimension=256,
                    endpoint=endpoint.url,
                    embeddings={"base64": base64.b64encode(plus.tobytes()).decode()},
                )
            ],
        )
    settings = ExportSettings(
        SETTINGS.model, "search_document", 256, SETTINGS.embedding_types, endpoint.url, True
    )
    return Embedded(folder, names, store_path, settings)


def items_of(embedded: Embedded) -> list[object]:
    cwd = os.getcwd()
    os.chdir(embedded.folder)
    try:
        return list(assess(embedded.names, SETTINGS).export_items())
    finally:
        os.chdir(cwd)


def write(embedded: Embedded, target: Path, embedding_type: str | None = None) -> None:
    from desktop.core.export import ExportItem

    items = [i for i in items_of(embedded) if isinstance(i, ExportItem)]
    with Store(embedded.store_path) as store:
        summary = export(store, items, embedded.settings, target, embedding_type=embedding_type)
    assert summary.rows == len(embedded.names)


def check_text_cells(cells: list[str]) -> None:
    for value in cells:
        assert not value.startswith(FORMULA_STARTS) or NUMBER.fullmatch(value), value


def test_csv_cells_are_escaped_and_read_back(embedded: Embedded, tmp_path: Path) -> None:
    target = tmp_path / "v.csv"
    write(embedded, target)
    with target.open(newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    assert len(rows) == len(embedded.names), "a name broke a row"
    assert all(len(row) == len(header) for row in rows), "a name broke out of its cell"
    assert [row[0] for row in rows] == [cell(n) for n in embedded.names]
    for row in rows:
        check_text_cells(row)
        assert all(NUMBER.fullmatch(v) for v in row[len(METADATA_COLUMNS) :])


def test_a_base64_cell_starting_with_a_formula_character_is_escaped(
    embedded: Embedded, tmp_path: Path
) -> None:
    target = tmp_path / "v.csv"
    with Store(embedded.store_path) as store:
        from desktop.core.export import ExportItem

        export(
            store,
            [ExportItem("+plus.png", "f" * 64)],
            embedded.settings,
            target,
            embedding_type="base64",
        )
    with target.open(newline="", encoding="utf-8") as f:
        header, row = list(csv.reader(f))
    assert row[0] == "'+plus.png"
    value = row[header.index("base64")]
    assert value.startswith("'+"), "the cell is escaped"
    assert base64.b64decode(value[1:])[:1] == b"\xf8", "dropping the ' gives the base64 back"


def test_tsv_metadata_keeps_one_line_and_one_cell_per_value(
    embedded: Embedded, tmp_path: Path
) -> None:
    target = tmp_path / "v.tsv"
    write(embedded, target)
    lines = projector_metadata_path(target).read_bytes().decode("utf-8").split("\n")
    assert lines[-1] == ""
    header, *rows = [line.split("\t") for line in lines[:-1]]
    assert len(rows) == len(embedded.names), "a name broke a line"
    assert all(len(row) == len(header) for row in rows), "a name broke out of its cell"
    escapes = str.maketrans({"\t": "\\t", "\n": "\\n", "\r": "\\r"})
    assert [row[0] for row in rows] == [cell(n).translate(escapes) for n in embedded.names]
    for row in rows:
        check_text_cells(row)
        assert "\r" not in "".join(row)
    vectors = target.read_text(encoding="utf-8").splitlines()
    assert len(vectors) == len(embedded.names)


@pytest.mark.parametrize("fmt", ["json", "jsonl", "npy", "npz"])
def test_json_and_numpy_ids_round_trip(embedded: Embedded, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"v.{fmt}"
    write(embedded, target)
    if fmt == "json":
        doc = json.loads(target.read_text(encoding="utf-8"))
        assert set(doc) >= {"model", "items"}, "nothing injected beside the items"
        paths = [item["path"] for item in doc["items"]]
        assert all(set(item) == set(doc["items"][0]) for item in doc["items"])
    elif fmt == "jsonl":
        lines = target.read_text(encoding="utf-8").splitlines()
        assert len(lines) == len(embedded.names), "a name broke a line"
        paths = [json.loads(line)["path"] for line in lines]
    elif fmt == "npy":
        side = json.loads(target.with_name(target.name + ".json").read_text(encoding="utf-8"))
        paths = side["ids"]
    else:
        with np.load(target, allow_pickle=False) as archive:
            paths = [str(p) for p in archive["ids"]]
    assert paths == [shown(n) for n in embedded.names]
