"""The export dialog: every format written on a worker from a real store, and read back."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from desktop.core.assess import assess
from desktop.core.endpoint import parse_endpoint
from desktop.core.export import ExportItem, ExportSettings, ExportSummary
from desktop.core.models import Settings
from desktop.core.runner import RunConfig, Runner
from desktop.core.store import Store, VectorKey
from desktop.emulator import Emulator
from desktop.ui.export_dialog import ExportDialog, ExportSource, summary_words, target_for
from tests.conftest import TEST_KEY
from tests.imagegen import photo_folder
from tests.secrets_check import files_containing


@dataclass(frozen=True)
class Embedded:
    """A store holding the vectors of all but the last of four images."""

    store_path: Path
    settings: ExportSettings
    items: tuple[ExportItem, ...]

    def vector(self, item: ExportItem, kind: str = "float") -> npt.NDArray[np.float64]:
        s = self.settings
        key = VectorKey(
            item.sha256_sent, s.model, s.input_type, s.output_dimension, kind, s.endpoint
        )
        with Store(self.store_path) as store:
            stored = store.get(key)
        assert stored is not None
        return np.asarray(stored.values, dtype=np.float64)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Embedded:
    folder = tmp_path_factory.mktemp("export")
    photo_folder(folder / "images", 4)
    settings = Settings(model="embed-v4.0", output_dimension=256, embedding_types=("float", "int8"))
    assessment = assess([folder / "images"], settings)
    store_path = folder / "store.sqlite3"
    with Emulator() as emu, Store(store_path) as store:
        endpoint = parse_endpoint(emu.base_url)
        config = RunConfig(settings=settings, api_key=TEST_KEY, endpoint=endpoint, seed=1)
        result = Runner(config, store).run(assessment.run_items()[:3])
    assert (result.outcome, result.embedded) == ("completed", 3)
    return Embedded(
        store_path,
        ExportSettings(
            model=settings.model,
            input_type=settings.effective_input_type,
            output_dimension=256,
            embedding_types=settings.embedding_types,
            endpoint=endpoint.url,
            emulated=result.emulated,
        ),
        tuple(assessment.export_items()),
    )


@pytest.fixture
def open_dialog(qtbot, tmp_path: Path) -> Callable[..., ExportDialog]:
    def make(embedded: Embedded, selected: tuple[ExportItem, ...] = ()) -> ExportDialog:
        source = ExportSource(embedded.store_path, embedded.settings, embedded.items, selected)
        dialog = ExportDialog(source)
        qtbot.addWidget(dialog, before_close_func=ExportDialog.shutdown)
        dialog.set_target(tmp_path / "vectors.csv")
        return dialog

    return make


@pytest.fixture(autouse=True)
def _key_never_leaks(
    caplog: pytest.LogCaptureFixture, tmp_path: Path, embedded: Embedded
) -> Iterator[None]:
    """The key used to fill the store reaches no log, no export and no store file."""
    caplog.set_level(logging.DEBUG)
    yield
    assert TEST_KEY not in caplog.text
    assert files_containing(tmp_path, TEST_KEY) == []
    assert files_containing(embedded.store_path.parent, TEST_KEY) == []


def export(qtbot, dialog: ExportDialog) -> ExportSummary:
    with qtbot.waitSignal(dialog.exported, timeout=10_000) as blocker:
        dialog.export_now()
    summary = blocker.args[0]
    assert isinstance(summary, ExportSummary)
    return summary


def read_back(fmt: str, path: Path) -> tuple[list[str], npt.NDArray[np.float64]]:
    """The paths and float vectors in an export file, read as another tool would."""
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        columns = [f"e{i}" for i in range(256)]
        return [r["path"] for r in rows], np.array([[float(r[c]) for c in columns] for r in rows])
    if fmt == "json":
        items = json.loads(path.read_text(encoding="utf-8"))["items"]
        return [i["path"] for i in items], np.array([i["embeddings"]["float"] for i in items])
    if fmt == "jsonl":
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return [i["path"] for i in lines], np.array([i["embeddings"]["float"] for i in lines])
    if fmt == "npy":
        sidecar = json.loads(path.with_name(path.name + ".json").read_text(encoding="utf-8"))
        return sidecar["ids"], np.load(path, allow_pickle=False).astype(np.float64)
    if fmt == "npz":
        with np.load(path, allow_pickle=False) as archive:
            return list(archive["ids"]), archive["vectors"].astype(np.float64)
    assert fmt == "tsv"
    meta = path.with_name(f"{path.stem}.metadata.tsv").read_text(encoding="utf-8").splitlines()
    paths = [line.split("\t")[0] for line in meta[1:]]
    return paths, np.loadtxt(path, delimiter="\t", ndmin=2)


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "npy", "npz", "tsv"])
def test_every_format_writes_a_file_that_reads_back_right(
    qtbot, tmp_path: Path, embedded: Embedded, open_dialog, fmt: str
) -> None:
    dialog = open_dialog(embedded)
    dialog.set_format(fmt)
    dialog.set_embedding_type("float")
    assert dialog.target == tmp_path / f"vectors.{fmt}", "the extension follows the format"

    summary = export(qtbot, dialog)

    assert (summary.rows, summary.skipped_missing) == (3, 1)
    text = dialog.summary_label.text()
    assert text.startswith(f"Wrote 3 vectors to vectors.{fmt}; 1 image without a vector left out.")
    assert "built-in emulator, not from Cohere" in text
    paths, vectors = read_back(fmt, dialog.target)
    assert paths == [item.path for item in embedded.items[:3]]
    for item, row in zip(embedded.items[:3], vectors, strict=True):
        assert np.allclose(row, embedded.vector(item), rtol=0, atol=1e-6)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_only_the_selected_images_and_another_embedding_type(
    qtbot, tmp_path: Path, embedded: Embedded, open_dialog
) -> None:
    dialog = open_dialog(embedded, selected=(embedded.items[1],))
    assert dialog.type_combo.isVisibleTo(dialog), "several types: the dialog asks which"
    assert dialog.selected_radio.isEnabled()
    dialog.selected_radio.setChecked(True)
    dialog.set_embedding_type("int8")

    summary = export(qtbot, dialog)

    assert (summary.rows, summary.skipped_missing, summary.embedding_types) == (1, 0, ("int8",))
    with dialog.target.open(newline="", encoding="utf-8") as f:
        (row,) = list(csv.DictReader(f))
    assert row["path"] == embedded.items[1].path
    assert row["embedding_type"] == "int8"
    values = [int(row[f"e{i}"]) for i in range(256)]
    assert all(-128 <= v <= 127 for v in values)
    assert dialog.summary_label.text().startswith("Wrote 1 vector to vectors.csv.")


def test_json_can_hold_every_embedding_type_at_once(qtbot, embedded: Embedded, open_dialog) -> None:
    dialog = open_dialog(embedded)
    dialog.set_format("json")
    assert dialog.type_combo.itemText(0).startswith("All of them")
    dialog.set_embedding_type(None)
    assert dialog.embedding_type is None
    export(qtbot, dialog)
    items = json.loads(dialog.target.read_text(encoding="utf-8"))["items"]
    assert set(items[0]["embeddings"]) == {"float", "int8"}
    dialog.set_format("csv")
    assert not dialog.type_combo.itemText(0).startswith("All of them"), "CSV holds one type"


def test_an_unwritable_place_is_said_in_plain_words(
    qtbot, tmp_path: Path, embedded: Embedded, open_dialog
) -> None:
    dialog = open_dialog(embedded)
    dialog.set_target(tmp_path / "no such folder" / "vectors.csv")
    with qtbot.assertNotEmitted(dialog.exported):
        dialog.export_now()
        qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)
    text = dialog.summary_label.text()
    assert text.startswith("Nothing was written. Could not write")
    assert "No such file or directory" in text
    assert dialog.export_button.isEnabled()
    assert dialog.last_summary is None


def test_the_dialog_stays_open_until_the_file_is_complete(
    qtbot, embedded: Embedded, open_dialog
) -> None:
    dialog = open_dialog(embedded)
    with qtbot.waitSignal(dialog.exported, timeout=10_000):
        dialog.export_now()
        assert dialog.busy
        assert not dialog.close_button.isEnabled()
        with qtbot.assertNotEmitted(dialog.finished):
            dialog.reject()
    assert not dialog.busy
    with qtbot.waitSignal(dialog.finished):
        dialog.reject()


def test_the_file_name_follows_the_format_and_the_other_way_round(
    tmp_path: Path, embedded: Embedded, open_dialog
) -> None:
    dialog = open_dialog(embedded)
    dialog.set_format("tsv")
    assert dialog.target.name == "vectors.tsv"
    assert "vectors.metadata.tsv" in dialog.file_note.text()
    dialog.set_target(tmp_path / "mine.npz")
    assert dialog.fmt == "npz"
    dialog.set_target(tmp_path / "plain")
    assert dialog.target.name == "plain.npz"
    (tmp_path / "plain.npz").write_bytes(b"old")
    dialog.set_target(tmp_path / "plain.npz")
    assert "will be replaced" in dialog.file_note.text()
    assert target_for("~/x.json", "csv").name == "x.csv"


def test_the_summary_counts_in_words(tmp_path: Path) -> None:
    one = ExportSummary((tmp_path / "v.npy", tmp_path / "v.npy.json"), 1, 2, ("float",), 8)
    assert summary_words(one, emulated=False) == (
        "Wrote 1 vector to v.npy; 2 images without a vector left out. Also wrote v.npy.json."
    )
    none = replace(one, rows=0)
    assert "run first" in summary_words(none, emulated=False)
    assert "not from Cohere" in summary_words(one, emulated=True)
