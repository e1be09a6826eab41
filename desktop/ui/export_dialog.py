"""File > Export: write stored vectors to CSV, JSON, JSONL, NumPy or the Embedding Projector.

The dialog gathers the choices (format, embedding type, which images, where), writes the file on
a worker, and ends with a summary in plain words. Tests drive it without ``exec()``: call
:meth:`ExportDialog.set_target` instead of the file chooser, then :meth:`ExportDialog.export_now`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.export import (
    FORMATS,
    ExportItem,
    ExportSettings,
    ExportSummary,
    npy_sidecar_path,
    projector_metadata_path,
)
from desktop.ui.modal import run_modal
from desktop.workers.exporting import ExportJob, ExportOutcome, start_export
from desktop.workers.tasks import Task, TaskPool

#: Each format's label, in the order offered.
FORMAT_LABELS: Final[dict[str, str]] = {
    "csv": "CSV: spreadsheets and most tools (.csv)",
    "json": "JSON: one file with the settings and every image (.json)",
    "jsonl": "JSON Lines: one image per line (.jsonl)",
    "npy": "NumPy array (.npy, with a .npy.json file naming the rows)",
    "npz": "NumPy archive (.npz: vectors, names and settings in one file)",
    "tsv": "TensorFlow Embedding Projector (.tsv, with a .metadata.tsv file)",
}
#: Each embedding type in plain words (the API's name first, for people who debug).
TYPE_LABELS: Final[dict[str, str]] = {
    "float": "float: decimal numbers",
    "int8": "int8: whole numbers from -128 to 127",
    "uint8": "uint8: whole numbers from 0 to 255",
    "binary": "binary: packed bits (signed bytes)",
    "ubinary": "ubinary: packed bits (unsigned bytes)",
    "base64": "base64: decimal numbers as base64 text",
}
#: Formats that can hold several embedding types at once.
MULTI_TYPE_FORMATS: Final = ("json", "jsonl")
_ALL_TYPES: Final = ""
_GOOD: Final = "color: #1b6e2a;"
_BAD: Final = "color: #a31515;"


@dataclass(frozen=True, slots=True)
class ExportSource:
    """What the window offers for export.

    Attributes:
        store_path: the SQLite store holding the vectors.
        settings: the settings the vectors were made with (``emulated`` when they come from
            the emulator).
        all_items: every image, in the order shown.
        selected_items: the images selected in the window (may be empty).
        start_dir: the folder the file chooser opens in ('' for the home folder).
    """

    store_path: Path
    settings: ExportSettings
    all_items: tuple[ExportItem, ...]
    selected_items: tuple[ExportItem, ...] = ()
    start_dir: str = ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_words(summary: ExportSummary, emulated: bool) -> str:
    """``Wrote 21 vectors to vectors.csv; 1 image without a vector left out.`` and so on."""
    text = f"Wrote {_plural(summary.rows, 'vector')} to {summary.paths[0].name}"
    if summary.skipped_missing:
        text += f"; {_plural(summary.skipped_missing, 'image')} without a vector left out"
    text += "."
    extras = [path.name for path in summary.paths[1:]]
    if extras:
        text += f" Also wrote {', '.join(extras)}."
    if summary.rows == 0:
        text += " Only images that were embedded with these settings have vectors: run first."
    if emulated:
        text += (
            " These vectors come from the built-in emulator, not from Cohere (the file marks "
            "them as emulated)."
        )
    return text


def target_for(text: str, fmt: str) -> Path:
    """*text* as a path ending in ``.fmt`` (another format's extension is replaced)."""
    path = Path(os.path.expanduser(text.strip()))
    suffix = path.suffix.lower().lstrip(".")
    if suffix == fmt:
        return path
    if suffix in FORMATS:
        return path.with_suffix(f".{fmt}")
    return path.with_name(f"{path.name}.{fmt}")


class ExportDialog(QDialog):
    """Choose what to export and where, then write it on a worker.

    Signals:
        exported(object): an export was written; its :class:`ExportSummary`.
    """

    exported = Signal(object)

    def __init__(
        self, source: ExportSource, pool: TaskPool | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export vectors")
        self.setMinimumWidth(600)
        self._source = source
        self._own_pool = pool is None
        self._pool = pool if pool is not None else TaskPool(1, "export", self)
        self._task: Task | None = None
        self._summary: ExportSummary | None = None
        self._build()
        self._on_format_changed()

    @classmethod
    def ask(
        cls, source: ExportSource, pool: TaskPool | None = None, parent: QWidget | None = None
    ) -> None:
        """Show the dialog modally until the user closes it."""
        run_modal(cls(source, pool, parent))

    # -- building -------------------------------------------------------------------------

    def _build(self) -> None:
        source = self._source
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.format_combo = QComboBox()
        for fmt, label in FORMAT_LABELS.items():
            self.format_combo.addItem(label, fmt)
        self.format_combo.currentIndexChanged.connect(self._on_format_changed)
        form.addRow("Format:", self.format_combo)

        self.type_combo = QComboBox()
        self.type_combo.setToolTip("Which of the run's embedding types (embedding_types) to write.")
        self.type_label = QLabel("Embedding type:")
        form.addRow(self.type_label, self.type_combo)
        several = len(source.settings.embedding_types) > 1
        self.type_label.setVisible(several)
        self.type_combo.setVisible(several)

        items_row = QWidget()
        items_layout = QVBoxLayout(items_row)
        items_layout.setContentsMargins(0, 0, 0, 0)
        self.all_radio = QRadioButton(f"All images ({len(source.all_items)})")
        self.selected_radio = QRadioButton(
            f"Only the selected images ({len(source.selected_items)})"
        )
        self.selected_radio.setEnabled(bool(source.selected_items))
        if not source.selected_items:
            self.selected_radio.setToolTip("Select images in the list first.")
        group = QButtonGroup(self)
        group.addButton(self.all_radio)
        group.addButton(self.selected_radio)
        self.all_radio.setChecked(True)
        items_layout.addWidget(self.all_radio)
        items_layout.addWidget(self.selected_radio)
        form.addRow("Images:", items_row)

        file_row = QHBoxLayout()
        start = Path(source.start_dir or os.path.expanduser("~"))
        self.path_edit = QLineEdit(str(start / "vectors.csv"))
        self.path_edit.editingFinished.connect(self._show_file_note)
        self.browse_button = QPushButton("Choose…")
        self.browse_button.clicked.connect(self.choose_file)
        file_row.addWidget(self.path_edit, 1)
        file_row.addWidget(self.browse_button)
        form.addRow("Save as:", file_row)
        self.file_note = QLabel()
        self.file_note.setWordWrap(True)
        form.addRow("", self.file_note)
        layout.addLayout(form)

        self.emulated_note: QLabel | None = None
        if source.settings.emulated:
            emulated = self.emulated_note = QLabel(
                "These vectors come from the built-in emulator, not from Cohere. The file "
                "says so (emulated: true)."
            )
            emulated.setWordWrap(True)
            emulated.setStyleSheet("color: #6b5800;")
            layout.addWidget(emulated)

        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary_label.hide()
        layout.addWidget(self.summary_label)
        layout.addStretch(1)

        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton(
            "Export", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.export_now)
        self.close_button.clicked.connect(self.reject)
        layout.addWidget(self.buttons)

    # -- choices --------------------------------------------------------------------------

    @property
    def fmt(self) -> str:
        """The chosen format."""
        value = self.format_combo.currentData()
        return value if isinstance(value, str) else "csv"

    def set_format(self, fmt: str) -> None:
        """Choose a format (``csv``, ``json``, ...)."""
        index = self.format_combo.findData(fmt)
        if index >= 0:
            self.format_combo.setCurrentIndex(index)

    def set_embedding_type(self, embedding_type: str | None) -> None:
        """Choose the embedding type to write (``None``: all of them, for JSON and JSONL)."""
        index = self.type_combo.findData(_ALL_TYPES if embedding_type is None else embedding_type)
        if index >= 0:
            self.type_combo.setCurrentIndex(index)

    @property
    def embedding_type(self) -> str | None:
        """The type to write, or ``None`` for every type (JSON and JSONL) or the only one."""
        value = self.type_combo.currentData()
        return value if isinstance(value, str) and value else None

    def set_target(self, path: str | os.PathLike[str]) -> None:
        """Write to *path*; its extension chooses the format when it names one."""
        suffix = Path(path).suffix.lower().lstrip(".")
        if suffix in FORMATS and suffix != self.fmt:
            self.set_format(suffix)
        self.path_edit.setText(str(target_for(os.fspath(path), self.fmt)))
        self._show_file_note()

    @property
    def target(self) -> Path:
        """The file that will be written."""
        return target_for(self.path_edit.text(), self.fmt)

    @Slot()
    def choose_file(self) -> None:
        """Pick the file with the system's file chooser."""
        fmt = self.fmt
        chosen, _filter = QFileDialog.getSaveFileName(
            self,
            "Export vectors to",
            str(self.target),
            f"{FORMAT_LABELS[fmt]} (*.{fmt})",
        )
        if chosen:
            self.set_target(chosen)

    @Slot()
    def _on_format_changed(self) -> None:
        fmt = self.fmt
        previous = self.embedding_type
        self.type_combo.blockSignals(True)
        self.type_combo.clear()
        types = self._source.settings.embedding_types
        if fmt in MULTI_TYPE_FORMATS and len(types) > 1:
            self.type_combo.addItem(f"All of them ({', '.join(types)})", _ALL_TYPES)
        for kind in types:
            self.type_combo.addItem(TYPE_LABELS.get(kind, kind), kind)
        self.type_combo.blockSignals(False)
        self.set_embedding_type(previous)
        text = self.path_edit.text()
        if text.strip():
            self.path_edit.setText(str(target_for(text, fmt)))
        self._show_file_note()

    @Slot()
    def _show_file_note(self) -> None:
        if not self.path_edit.text().strip():
            self.file_note.setText("Choose where to save the file.")
            return
        target = self.target
        notes = []
        if self.fmt == "npy":
            notes.append(f"Also writes {npy_sidecar_path(target).name} (which row is which image).")
        elif self.fmt == "tsv":
            notes.append(
                f"Also writes {projector_metadata_path(target).name}; load both files at "
                "projector.tensorflow.org."
            )
        if target.exists():
            notes.append(f"{target.name} exists and will be replaced.")
        self.file_note.setText(" ".join(notes))

    # -- exporting ------------------------------------------------------------------------

    @Slot()
    def export_now(self) -> None:
        """Write the export on a worker; the summary appears when it is done."""
        if self._task is not None:
            return
        if not self.path_edit.text().strip():
            self._show_summary("Choose where to save the file first.", False)
            return
        source = self._source
        items = source.selected_items if self.selected_radio.isChecked() else source.all_items
        job = ExportJob(
            store_path=source.store_path,
            items=tuple(items),
            settings=source.settings,
            target=self.target,
            fmt=self.fmt,
            embedding_type=self.embedding_type,
        )
        self._show_summary(f"Writing {job.target.name}…", None)
        self._set_busy(True)
        self._task = start_export(self._pool, job, self._on_result, self._on_failed)

    @Slot(object)
    def _on_result(self, outcome: ExportOutcome) -> None:
        self._task = None
        self._set_busy(False)
        if outcome.summary is None:
            self._show_summary(f"Nothing was written. {outcome.error}", False)
            return
        self._summary = outcome.summary
        self._show_summary(summary_words(outcome.summary, self._source.settings.emulated), True)
        # The summary says it all now (the emulated label included).
        self.file_note.clear()
        if self.emulated_note is not None:
            self.emulated_note.hide()
        self.exported.emit(outcome.summary)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._task = None
        self._set_busy(False)
        self._show_summary(f"Nothing was written: an unexpected error ({message}).", False)

    @property
    def last_summary(self) -> ExportSummary | None:
        """The last export's summary, if one was written."""
        return self._summary

    def _set_busy(self, busy: bool) -> None:
        for widget in (
            self.export_button,
            self.close_button,
            self.format_combo,
            self.type_combo,
            self.all_radio,
            self.path_edit,
            self.browse_button,
        ):
            widget.setEnabled(not busy)
        self.selected_radio.setEnabled(not busy and bool(self._source.selected_items))

    def _show_summary(self, text: str, good: bool | None) -> None:
        self.summary_label.setStyleSheet("" if good is None else (_GOOD if good else _BAD))
        self.summary_label.setText(text)
        self.summary_label.setVisible(bool(text))

    # -- closing --------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Whether an export is being written."""
        return self._task is not None

    def reject(self) -> None:
        """Close, unless a file is being written (it is never left half done)."""
        if self._task is None:
            super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing waits until the file being written is complete."""
        if self._task is not None:
            event.ignore()
            return
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Wait for an export under way (it is short) and release the worker."""
        if self._own_pool:
            self._pool.shutdown()
        elif self._task is not None:
            self._pool.wait()
