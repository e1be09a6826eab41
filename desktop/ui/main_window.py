"""The main window: images on the left, what will be sent in the middle, settings and plan on
the right, the run at the bottom. It wires the panels together and owns the menus; the panels
and the controller do the work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QItemSelection, QModelIndex, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.core.endpoint import Endpoint
from desktop.core.export import ExportSettings
from desktop.core.models import Settings
from desktop.core.runner import RunConfig
from desktop.core.store import default_store_path
from desktop.offline import OfflineService
from desktop.ui.app_settings import AppSettings
from desktop.ui.controller import SessionController
from desktop.ui.export_dialog import ExportDialog, ExportSource
from desktop.ui.grid import ImageGrid
from desktop.ui.inspector import RequestInspector
from desktop.ui.item_model import (
    ItemListModel,
    PathRole,
    SortOrder,
    StatusFilter,
    StatusFilterModel,
)
from desktop.ui.key_dialog import KeyDialog
from desktop.ui.keys_state import KeyHolder, KeyStatus
from desktop.ui.plan_panel import PlanPanel
from desktop.ui.preview import PreviewPanel
from desktop.ui.rule_help import show_rule_help
from desktop.ui.run_panel import RunPanel
from desktop.ui.settings_panel import SettingsPanel
from desktop.workers.running import RunJob
from desktop.workers.stored import find_stored, stored_query
from desktop.workers.tasks import Report, TaskPool, run_task

_FILTERS = (
    ("All images", StatusFilter.ALL),
    ("Ready (no warnings)", StatusFilter.OK),
    ("With warnings", StatusFilter.WARNINGS),
    ("In error", StatusFilter.ERRORS),
    ("Not embedded yet", StatusFilter.NOT_EMBEDDED),
)
_SORTS = (("Sort by name", SortOrder.NAME), ("Sort by status", SortOrder.STATUS))
_IMAGE_FILTER = (
    "Images (*.jpg *.jpeg *.png *.webp *.gif *.bmp *.tif *.tiff *.heic *.avif);;All files (*)"
)


class MainWindow(QMainWindow):
    """Embed Studio's window."""

    def __init__(
        self,
        app_settings: AppSettings | None = None,
        store_path: Path | None = None,
        offline: OfflineService | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("Embed Studio")
        self.setObjectName("mainWindow")
        self.app_settings = app_settings or AppSettings()
        self.store_path = store_path or default_store_path()
        self.controller = SessionController(self.app_settings.settings(), self)
        self.keys = KeyHolder(self.app_settings.base_url(), self)
        self.offline = offline or OfflineService()
        self.pool = TaskPool(2, "window", None)
        self._build_widgets()
        self._build_menus()
        self._connect()
        self._restore()
        self._shut_down = False
        self._stored_timer = QTimer(self)
        self._stored_timer.setSingleShot(True)
        self._stored_timer.setInterval(150)
        self._stored_timer.timeout.connect(self._look_up_stored)
        self.store_notice: QMessageBox | None = None
        self._refresh_key_status(self.keys.status)
        self._refresh_can_run()

    # -- building -------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        c = self.controller
        self.model = ItemListModel(c, self)
        self.proxy = StatusFilterModel(self)
        self.proxy.setSourceModel(self.model)
        self.grid = ImageGrid()
        self.grid.setModel(self.proxy)
        self.preview = PreviewPanel(c)
        self.settings_panel = SettingsPanel(c.session.settings)
        self.plan_panel = PlanPanel(c)
        self.inspector = RequestInspector(c, self)
        self.run_panel = RunPanel(c)

        self.filter_box = QComboBox()
        for label, shown in _FILTERS:
            self.filter_box.addItem(label, shown)
        self.sort_box = QComboBox()
        for label, order in _SORTS:
            self.sort_box.addItem(label, order)
        self.grid.empty_text = (
            "Drop images or folders here, paste them (Ctrl+V), or use File > Add images."
        )
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.filter_box, 1)
        row.addWidget(self.sort_box, 1)
        left_layout.addLayout(row)
        left_layout.addWidget(self.grid, 1)

        self.key_label = QLabel()
        self.key_label.setWordWrap(True)
        self.key_button = QPushButton("API key…")
        self.key_button.setToolTip("Enter, test, replace or forget your Cohere API key (Ctrl+K)")
        self.offline_box = QCheckBox("Try it offline (no key needed)")
        self.offline_box.setToolTip(
            "Runs go to a built-in stand-in for Cohere's API on this computer. Its vectors are "
            "made up and labelled as such: useful to learn the app, not for real work."
        )
        key_frame = QFrame()
        key_frame.setFrameShape(QFrame.Shape.StyledPanel)
        key_layout = QVBoxLayout(key_frame)
        key_layout.addWidget(QLabel("<b>API key</b>"))
        key_layout.addWidget(self.key_label)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_button)
        key_row.addStretch(1)
        key_layout.addLayout(key_row)
        key_layout.addWidget(self.offline_box)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.settings_panel)
        side_layout.addWidget(key_frame)
        side_layout.addWidget(self.plan_panel)
        side_layout.addStretch(1)
        side_scroll = QScrollArea()
        side_scroll.setWidgetResizable(True)
        side_scroll.setWidget(side)
        side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Never narrower than its content: a hidden horizontal scroll would shift it sideways.
        scrollbar = side_scroll.verticalScrollBar().sizeHint().width()
        side_scroll.setMinimumWidth(side.minimumSizeHint().width() + scrollbar + 4)

        self.top_split = QSplitter(Qt.Orientation.Horizontal)
        self.top_split.addWidget(left)
        self.top_split.addWidget(self.preview)
        self.top_split.addWidget(side_scroll)
        self.top_split.setStretchFactor(0, 4)
        self.top_split.setStretchFactor(1, 3)
        self.top_split.setStretchFactor(2, 2)
        self.top_split.setSizes([540, 430, 390])
        self.main_split = QSplitter(Qt.Orientation.Vertical)
        self.main_split.setObjectName("mainSplit")
        self.main_split.addWidget(self.top_split)
        self.main_split.addWidget(self.run_panel)
        self.main_split.setStretchFactor(0, 4)
        self.main_split.setStretchFactor(1, 1)
        self.setCentralWidget(self.main_split)

    def _action(
        self,
        text: str,
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None,
        slot: object,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.add_files_action = self._action(
            "&Add images…", QKeySequence.StandardKey.Open, self.choose_files
        )
        file_menu.addAction(self.add_files_action)
        file_menu.addAction(self._action("Add &folder…", "Ctrl+Shift+O", self.choose_folder))
        file_menu.addAction(
            self._action("&Paste images", QKeySequence.StandardKey.Paste, self.paste)
        )
        file_menu.addSeparator()
        self.export_action = self._action("&Export vectors…", "Ctrl+E", self.export)
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", QKeySequence.StandardKey.Quit, self.close))

        edit = bar.addMenu("&Edit")
        edit.addAction(
            self._action("Select &all", QKeySequence.StandardKey.SelectAll, self.grid.selectAll)
        )
        edit.addAction(self._action("&Remove selected", None, self.remove_selected))
        edit.addAction(self._action("&Clear the list", "Ctrl+Shift+Delete", self.clear))

        run = bar.addMenu("&Run")
        self.run_action = self._action("&Embed images", "Ctrl+R", self.start_run)
        run.addAction(self.run_action)
        run.addAction(self._action("&Cancel the run", "Ctrl+.", self.run_panel.cancel_run))
        run.addAction(self._action("&Inspect the first request…", "Ctrl+I", self.inspect_first))

        settings = bar.addMenu("&Settings")
        settings.addAction(self._action("API &key…", "Ctrl+K", self.open_key_dialog))
        self.offline_action = self._action("Try it &offline", None, self._toggle_offline)
        self.offline_action.setCheckable(True)
        settings.addAction(self.offline_action)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("What the &warnings mean…", "F1", self.explain_rules))
        help_menu.addAction(self._action("&About Embed Studio", None, self.about))

    def _connect(self) -> None:
        c = self.controller
        c.status_message.connect(self._show_status)
        c.items_removed.connect(self._on_items_removed)
        c.plan_changed.connect(self._on_plan_changed)
        c.settings_changed.connect(self._on_settings_changed)
        c.paths_skipped.connect(self._on_paths_skipped)
        self.settings_panel.settings_changed.connect(self._on_settings_chosen)
        self.plan_panel.inspect_requested.connect(self.inspect)
        self.plan_panel.refreshed.connect(self._refresh_can_run)
        self.grid.paths_dropped.connect(self._on_paths_dropped)
        self.grid.delete_requested.connect(self.remove_selected)
        self.grid.selectionModel().selectionChanged.connect(self._on_selection)
        self.filter_box.currentIndexChanged.connect(self._on_filter)
        self.sort_box.currentIndexChanged.connect(self._on_sort)
        self.key_button.clicked.connect(self.open_key_dialog)
        self.offline_box.toggled.connect(self._set_offline)
        self.keys.changed.connect(self._refresh_key_status)
        self.keys.base_url_changed.connect(self._on_base_url)
        self.run_panel.run_requested.connect(self.start_run)
        self.run_panel.run_finished.connect(self._on_run_finished)
        self.run_panel.item_activated.connect(self.select_path)
        self.run_panel.key_dialog_requested.connect(self.open_key_dialog)

    def _restore(self) -> None:
        geometry = self.app_settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1360, 860)
        self.main_split.setSizes([760, 90])
        state = self.app_settings.window_state()
        if state is not None:
            self.main_split.restoreState(state)

    # -- adding and removing --------------------------------------------------------------

    def first_start(self) -> bool:
        """Whether the app has never been opened before (it then shows the samples)."""
        return self.app_settings.first_start()

    def add_paths(self, paths: Sequence[str]) -> None:
        """Add files and folders (read on workers)."""
        if paths:
            self.controller.add_paths([os.path.abspath(p) for p in paths])

    @Slot(list)
    def _on_paths_dropped(self, paths: list[str]) -> None:
        self.add_paths(paths)

    @Slot()
    def choose_files(self) -> None:
        """File > Add images."""
        files, _ = QFileDialog.getOpenFileNames(
            self, "Add images", self.app_settings.last_folder(), _IMAGE_FILTER
        )
        if files:
            self.app_settings.save_last_folder(os.path.dirname(files[0]))
            self.add_paths(files)

    @Slot()
    def choose_folder(self) -> None:
        """File > Add folder."""
        folder = QFileDialog.getExistingDirectory(
            self, "Add a folder of images", self.app_settings.last_folder()
        )
        if folder:
            self.app_settings.save_last_folder(folder)
            self.add_paths([folder])

    @Slot()
    def paste(self) -> None:
        """Add what the clipboard holds: file names, or an image (saved as a PNG first)."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime.hasUrls():
            paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            self.add_paths([p for p in paths if p])
        elif mime.hasImage():
            image = QGuiApplication.clipboard().image()
            if not image.isNull():
                self._save_pasted(image)
        elif mime.hasText():
            lines = [line.strip() for line in mime.text().splitlines()]
            self.add_paths([line for line in lines if line and os.path.exists(line)])

    def _save_pasted(self, image: QImage) -> None:
        folder = self.store_path.parent / "pasted"
        target = folder / time.strftime("pasted-%Y%m%d-%H%M%S.png")
        copy = image.copy()

        def work(_report: Report, _cancelled: object) -> str:
            folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            if not copy.save(str(partial), b"PNG"):
                raise OSError(f"could not write {target}")
            os.replace(partial, target)
            return str(target)

        run_task(self.pool, work, "save pasted image", result=self._on_pasted_saved)

    @Slot(object)
    def _on_pasted_saved(self, path: object) -> None:
        self.add_paths([str(path)])

    def _selected_rows(self) -> list[int]:
        rows = {
            self.proxy.mapToSource(ix).row() for ix in self.grid.selectionModel().selectedIndexes()
        }
        return sorted(r for r in rows if r >= 0)

    @Slot()
    def remove_selected(self) -> None:
        """Remove the selected images from the list (files are not touched)."""
        rows = self._selected_rows()
        if rows:
            self.controller.remove(rows)

    @Slot()
    def clear(self) -> None:
        """Remove every image from the list."""
        self.controller.clear()

    @Slot(str)
    def select_path(self, path: str) -> None:
        """Select the image *path* in the grid (from the run's results list)."""
        row = self.controller.session.index_of(path)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row))
        if index.isValid():
            self.grid.setCurrentIndex(index)
            self.grid.scrollTo(index)

    # -- reacting to the session ----------------------------------------------------------

    @Slot(str)
    def _show_status(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    def show_store_notice(self, message: str) -> None:
        """Tell the user what happened to the store at start (a damaged one set aside, say),
        in a message that stays until read; it does not block the window."""
        box = QMessageBox(
            QMessageBox.Icon.Warning, "The result store", message, QMessageBox.StandardButton.Ok
        )
        box.setParent(self, box.windowFlags())
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setObjectName("storeNotice")
        box.open()
        self.store_notice = box
        self._show_status(message)

    @Slot()
    def _on_items_removed(self) -> None:
        self._on_selection()

    @Slot(list)
    def _on_paths_skipped(self, skipped: list[object]) -> None:
        if skipped:
            self._show_status(f"Skipped {len(skipped)} file(s) that are not images or are hidden.")

    @Slot()
    def _on_plan_changed(self) -> None:
        self._refresh_can_run()
        self._stored_timer.start()

    @Slot(object)
    def _on_settings_chosen(self, settings: Settings) -> None:
        self.controller.set_settings(settings)

    @Slot(object)
    def _on_settings_changed(self, settings: Settings) -> None:
        self.settings_panel.set_settings(settings)
        self.app_settings.save_settings(settings)
        self._stored_timer.start()

    @Slot(QItemSelection, QItemSelection)
    def _on_selection(self, *_args: object) -> None:
        self.preview.show_items(self._selected_rows())

    @Slot(int)
    def _on_filter(self, position: int) -> None:
        self.proxy.set_filter(self.filter_box.itemData(position))

    @Slot(int)
    def _on_sort(self, position: int) -> None:
        self.proxy.set_sort(self.sort_box.itemData(position))

    # -- the key and the server -----------------------------------------------------------

    @property
    def endpoint(self) -> Endpoint:
        """Where runs go: the built-in emulator offline, else the chosen base URL."""
        return self.offline.endpoint if self.offline.running else self.keys.endpoint

    @Slot()
    def open_key_dialog(self) -> None:
        """Settings > API key."""
        KeyDialog.ask(self.keys, parent=self)

    @Slot(object)
    def _refresh_key_status(self, status: KeyStatus) -> None:
        text = status.summary()
        if not status.keyring_available and status.source is None:
            text += f" {status.keyring_problem}"
        if not self.keys.endpoint.is_cohere:
            text += f"<br>Server: {self.keys.endpoint.url}"
        self.key_label.setText(text)
        self._refresh_can_run()

    @Slot(str)
    def _on_base_url(self, url: str) -> None:
        self.app_settings.save_base_url(url)
        self._refresh_key_status(self.keys.status)
        self._stored_timer.start()

    @Slot()
    def _toggle_offline(self) -> None:
        self.offline_box.setChecked(self.offline_action.isChecked())

    @Slot(bool)
    def _set_offline(self, on: bool) -> None:
        if on and not self.offline.running:
            self.offline.start()
        elif not on and self.offline.running and not self.run_panel.running:
            self.offline.stop()
        self.offline_action.setChecked(on)
        self.run_panel.set_offline(on)
        self._refresh_can_run()
        self._stored_timer.start()

    # -- running --------------------------------------------------------------------------

    @Slot()
    def _refresh_can_run(self) -> None:
        blocking = self.plan_panel.blocking_error()
        has_key = self.offline.running or self.keys.status.has_key
        if blocking:
            self.run_panel.set_can_run(False, blocking)
        elif not has_key:
            self.run_panel.set_can_run(
                True, "No API key yet: Run asks for one (or tick “Try it offline”)."
            )
        else:
            self.run_panel.set_can_run(True, "")
        self.run_action.setEnabled(blocking is None and not self.run_panel.running)

    @Slot()
    def start_run(self) -> None:
        """Embed every sendable image (Run)."""
        if self.run_panel.running or self.plan_panel.blocking_error():
            return
        if self.offline.running:
            secret = self.offline.key
        else:
            key = self.keys.api_key()
            if key is None:
                self.open_key_dialog()
                key = self.keys.api_key()
                if key is None:
                    return
            secret = key.secret
        session = self.controller.session
        config = RunConfig(settings=session.settings, api_key=secret, endpoint=self.endpoint)
        job = RunJob(config, tuple(session.run_items()), self.store_path)
        self.run_panel.start_run(job)
        self._refresh_can_run()

    @Slot(object)
    def _on_run_finished(self, _result: object) -> None:
        self._refresh_can_run()
        self._stored_timer.start()

    @Slot()
    def _look_up_stored(self) -> None:
        if self._shut_down:
            return
        session = self.controller.session
        shas = [s.sha256 for n in session.sendable() if (s := session.sent_of(n)) is not None]
        query = stored_query(self.store_path, session.settings, self.endpoint.url, shas)
        run_task(self.pool, find_stored(query), "look up stored vectors", result=self._on_stored)

    @Slot(object)
    def _on_stored(self, stored: object) -> None:
        if isinstance(stored, set):
            self.controller.refresh_embedded(stored)

    # -- inspecting and exporting ---------------------------------------------------------

    @Slot(int)
    def inspect(self, number: int) -> None:
        """Show request *number* of the plan in the inspector."""
        self.inspector.inspect(number, self.endpoint.url)

    @Slot()
    def inspect_first(self) -> None:
        """Run > Inspect the first request."""
        if self.plan_panel.requests:
            self.inspect(0)

    def export_source(self) -> ExportSource:
        """What File > Export offers: every image, the selected ones, and their settings."""
        session = self.controller.session
        s = session.settings
        result = self.run_panel.last_result
        emulated = self.offline.running or bool(result and result.emulated)
        settings = ExportSettings(
            model=s.model,
            input_type=s.effective_input_type,
            output_dimension=s.effective_dimension or 0,
            embedding_types=s.embedding_types,
            endpoint=self.endpoint.url,
            emulated=emulated,
        )
        return ExportSource(
            store_path=self.store_path,
            settings=settings,
            all_items=tuple(session.export_items()),
            selected_items=tuple(session.export_items(self._selected_rows())),
            start_dir=self.app_settings.last_folder(),
        )

    @Slot()
    def export(self) -> None:
        """File > Export vectors."""
        ExportDialog.ask(self.export_source(), parent=self)

    # -- help -----------------------------------------------------------------------------

    @Slot()
    def explain_rules(self) -> None:
        """Help > What the warnings mean (for the selected image, or all rules)."""
        rows = self._selected_rows()
        findings = self.controller.session.items[rows[0]].findings if rows else []
        show_rule_help(findings[0].code if findings else "downsampled", parent=self)

    @Slot()
    def about(self) -> None:
        """Help > About."""
        from desktop import __version__

        QMessageBox.about(
            self,
            "About Embed Studio",
            f"<b>Embed Studio {__version__}</b><p>Embed your own images with Cohere's Embed API, "
            "and see exactly what is sent.</p><p>Sample images: public domain and CC0, see "
            "resources/samples/LICENSES.md.</p>",
        )

    # -- readiness, closing ---------------------------------------------------------------

    def is_settled(self) -> bool:
        """Whether every image is read and judged and every visible thumbnail is shown."""
        c = self.controller
        if c.busy or c.thumbnails_busy or self.preview.busy or self.plan_panel.refresh_pending:
            return False
        session = c.session
        if any(item.probe is None for item in session.items) or session.needs_prepare():
            return False
        view = self.grid.viewport().rect()
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if not self.grid.visualRect(index).intersects(view):
                continue
            path = index.data(PathRole)
            if path is not None and not self.model.has_thumbnail(str(path)):
                return False
        return True

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing during a run asks first, cancels cleanly and keeps what arrived."""
        if self.run_panel.running:
            answer = QMessageBox.question(
                self,
                "A run is in progress",
                "Stop the run and close? Every vector that has already arrived is kept, and a "
                "later run carries on where this one stopped.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.app_settings.save_geometry(self.saveGeometry())
        self.app_settings.save_window_state(self.main_split.saveState())
        self.app_settings.save_settings(self.controller.session.settings)
        self.app_settings.mark_started()
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Cancel all work and wait for it; stop the emulator (idempotent)."""
        # Cancelling the run below restarts the look-up timer; no look-up may start after this.
        self._shut_down = True
        self._stored_timer.stop()
        self.run_panel.shutdown()
        self.controller.shutdown()
        self.preview.shutdown()
        self.inspector.shutdown()
        self.pool.shutdown()
        self.offline.stop()

    def select_first_with(self, status_names: Sequence[str]) -> bool:
        """Select the first image whose status is one of *status_names* (screenshots)."""
        for row in range(self.proxy.rowCount()):
            index: QModelIndex = self.proxy.index(row, 0)
            source = self.proxy.mapToSource(index).row()
            status = self.controller.session.items[source].status
            if status is not None and status.value in status_names:
                self.grid.setCurrentIndex(index)
                return True
        return False
