"""The run panel: the Run button, a run's progress in words, and what happened to each image.

The panel starts a :class:`~desktop.workers.running.RunTask` when the window hands it a job,
shows the runner's events as they arrive, and tells the session controller which images were
embedded or failed. Whether a run may start, and with which key, is the window's decision.
"""

from __future__ import annotations

import html
import os
from typing import Final

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from desktop.core.rules import duration_words
from desktop.core.runner import (
    ItemFailed,
    ItemsEmbedded,
    Progress,
    Retrying,
    RunEnded,
    RunPlanned,
    RunResult,
)
from desktop.ui.controller import SessionController
from desktop.workers.running import AlreadyEmbedded, RunJob, RunTask, start_run
from desktop.workers.tasks import TaskPool

#: How the runner's messages for a refused key begin (401, or a check that says "not valid").
KEY_REFUSED_PREFIX: Final = "The API key was refused"
#: The role holding an item's path in the results list.
PATH_ROLE: Final = Qt.ItemDataRole.UserRole

OFFLINE_BANNER: Final = (
    "Offline practice mode: vectors come from the built-in emulator, not from Cohere. "
    "Nothing leaves this computer and nothing is billed."
)
EMULATED_BANNER: Final = (
    "This server is the Embed Studio emulator: its vectors are made up on this computer and "
    "are not Cohere's."
)

_BANNER_STYLE: Final = (
    "QFrame#banner { background: #fff4ce; border: 1px solid #c9a400; border-radius: 4px; }"
    " QFrame#banner QLabel { color: #3d3200; }"
)
_PROBLEM_STYLE: Final = (
    "QFrame#keyProblem { background: #fde7e9; border: 1px solid #c50f1f; border-radius: 4px; }"
    " QFrame#keyProblem QLabel { color: #5c0008; }"
)


def _plural(n: int | float, word: str) -> str:
    shown = f"{n:g}" if isinstance(n, float) else str(n)
    return f"{shown} {word}{'' if n == 1 else 's'}"


def counts_words(done: int, total: int, failed: int) -> str:
    """``42 of 500 images embedded, 1 failed``."""
    text = f"{done} of {_plural(total, 'image')} embedded"
    return text + (f", {failed} failed" if failed else "")


class RunPanel(QWidget):
    """Start a run, follow it, cancel it, and see each image's result.

    Signals:
        run_requested(): the user pressed Run; the window builds a job and calls
            :meth:`start_run` (or explains why it cannot).
        cancel_requested(): the user pressed Cancel (the panel cancels the run itself).
        run_finished(object): a run is over; its :class:`RunResult` (also when cancelled,
            stopped or failed).
        item_activated(str): the user clicked an image in the results list; its path.
        key_dialog_requested(): the user wants to fix the API key after it was refused.
    """

    run_requested = Signal()
    cancel_requested = Signal()
    run_finished = Signal(object)
    item_activated = Signal(str)
    key_dialog_requested = Signal()

    def __init__(self, controller: SessionController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._pool = TaskPool(1, "embed-runs", self)
        # The pool runs nothing but runs: idle means the run is over, also when it was
        # cancelled before it started (then its task never says it finished).
        self._pool.idle.connect(self._on_finished)
        self._task: RunTask | None = None
        self._result: RunResult | None = None
        self._can_run = False
        self._reason = ""
        self._offline = False
        self._emulated = False
        self._failed_rows = 0
        self._ended = False
        self._plan: RunPlanned | None = None
        self._build()
        self._update_controls()

    # -- building -------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)

        self.banner = QFrame()
        self.banner.setObjectName("banner")
        self.banner.setStyleSheet(_BANNER_STYLE)
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(10, 6, 10, 6)
        self.banner_label = QLabel(OFFLINE_BANNER)
        self.banner_label.setWordWrap(True)
        banner_layout.addWidget(self.banner_label)
        self.banner.hide()
        layout.addWidget(self.banner)

        self.key_problem = QFrame()
        self.key_problem.setObjectName("keyProblem")
        self.key_problem.setStyleSheet(_PROBLEM_STYLE)
        problem_layout = QHBoxLayout(self.key_problem)
        problem_layout.setContentsMargins(10, 6, 10, 6)
        self.key_problem_label = QLabel()
        self.key_problem_label.setTextFormat(Qt.TextFormat.RichText)
        self.key_problem_label.setWordWrap(True)
        self.key_problem_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.key_button = QPushButton("Change the API key…")
        self.key_button.clicked.connect(self.key_dialog_requested)
        problem_layout.addWidget(self.key_problem_label, 1)
        problem_layout.addWidget(self.key_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.key_problem.hide()
        layout.addWidget(self.key_problem)

        top = QHBoxLayout()
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip(
            "Send the images to the Embed API and keep their vectors on this computer."
        )
        self.run_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.run_button.clicked.connect(self.run_requested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(
            "Stop after the requests already sent; every vector that arrives is kept."
        )
        self.cancel_button.clicked.connect(self.cancel_run)
        self.reason_label = QLabel()
        self.reason_label.setWordWrap(True)
        self.reason_label.setStyleSheet("color: palette(placeholder-text);")
        top.addWidget(self.run_button)
        top.addWidget(self.cancel_button)
        top.addWidget(self.reason_label, 1)
        layout.addLayout(top)

        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.headline.hide()
        layout.addWidget(self.headline)

        self.progress_area = QWidget()
        progress_layout = QVBoxLayout(self.progress_area)
        progress_layout.setContentsMargins(0, 0, 0, 0)
        bar_row = QHBoxLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.counts_label = QLabel()
        bar_row.addWidget(self.progress_bar, 1)
        bar_row.addWidget(self.counts_label)
        progress_layout.addLayout(bar_row)

        self.details_label = QLabel()
        self.details_label.setWordWrap(True)
        self.details_label.setToolTip(
            "Requests: calls to the Embed API (each carries several images). Retries: attempts "
            "repeated after a temporary error. Images billed: what Cohere counts for billing "
            "(meta.billed_units.images)."
        )
        progress_layout.addWidget(self.details_label)

        self.retry_label = QLabel()
        self.retry_label.setWordWrap(True)
        self.retry_label.hide()
        progress_layout.addWidget(self.retry_label)
        # Nothing to show before the first run.
        self.progress_area.hide()
        layout.addWidget(self.progress_area)

        self.results = QListWidget()
        self.results.setWordWrap(True)
        self.results.setAlternatingRowColors(True)
        self.results.setToolTip("Click an image to select it in the list of images.")
        self.results.itemClicked.connect(self._on_item_clicked)
        self.results.itemActivated.connect(self._on_item_clicked)
        self.results.setIconSize(QSize(16, 16))
        # Lay rows out a batch at a time: with wrapped rows of different heights, a full
        # relayout per response grows with the list (18x slower for 10,000 images).
        self.results.setLayoutMode(QListView.LayoutMode.Batched)
        self.results.setBatchSize(200)
        self.results.hide()
        layout.addWidget(self.results, 1)
        self.spacer = QWidget()
        layout.addWidget(self.spacer, 1)
        self._ok_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton)
        self._failed_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical)

    # -- what the window sets -------------------------------------------------------------

    def set_can_run(self, can_run: bool, reason: str = "") -> None:
        """Enable Run or not; *reason* says in plain words why not (or what Run will do)."""
        self._can_run = can_run
        self._reason = reason
        self._update_controls()

    def set_offline(self, offline: bool) -> None:
        """Show the offline practice banner (runs go to the built-in emulator)."""
        self._offline = offline
        self._update_banner()

    @property
    def running(self) -> bool:
        """Whether a run is under way (until its ``run_finished`` was emitted)."""
        return self._task is not None

    @property
    def last_result(self) -> RunResult | None:
        """How the last run ended, if one did."""
        return self._result

    # -- running --------------------------------------------------------------------------

    def start_run(self, job: RunJob) -> None:
        """Start *job* on a worker (ignored while a run is under way)."""
        if self._task is not None:
            return
        self._result = None
        self._emulated = False
        self._failed_rows = 0
        self._ended = False
        self._plan = None
        self.results.clear()
        self.results.hide()
        self.spacer.show()
        self.key_problem.hide()
        self.retry_label.hide()
        self.progress_bar.setRange(0, 0)  # busy until the plan is known
        self.counts_label.clear()
        self.details_label.clear()
        self.progress_area.show()
        self.headline.setText("Checking the API key…")
        self.headline.show()
        self._task = start_run(self._pool, job, self._on_event)
        self._update_controls()
        self._update_banner()

    @Slot()
    def cancel_run(self) -> None:
        """Stop the run after the requests in flight (what they bring back is kept)."""
        if self._task is None:
            return
        self._task.cancel()
        self.headline.setText("Cancelling: waiting for the requests already sent…")
        self.cancel_button.setEnabled(False)
        self.cancel_requested.emit()

    def cancel_and_wait(self, msecs: int = 30_000) -> bool:
        """Cancel a run and block until its worker is over (closing the window); ``False`` on
        timeout. ``run_finished`` follows when the event loop next runs."""
        if self._task is not None:
            self._task.cancel()
        return self._pool.wait(msecs)

    def shutdown(self, msecs: int = 30_000) -> bool:
        """Cancel everything and wait for it (at exit)."""
        if self._task is not None:
            self._task.cancel()
        return self._pool.shutdown(msecs)

    # -- events ---------------------------------------------------------------------------

    @Slot(object)
    def _on_event(self, event: object) -> None:
        if isinstance(event, Progress):
            self._show_progress(event)
        elif isinstance(event, ItemsEmbedded):
            self._controller.mark_embedded(list(event.sha256s))
            for path in event.paths:
                self._add_row(path, "embedded", failed=False)
        elif isinstance(event, ItemFailed):
            self._controller.mark_failed(event.sha256, event.message)
            self._add_row(event.path, event.message, failed=True)
        elif isinstance(event, AlreadyEmbedded):
            if event.sha256s:
                self._controller.mark_embedded(list(event.sha256s))
        elif isinstance(event, RunPlanned):
            self._show_plan(event)
        elif isinstance(event, Retrying):
            self.retry_label.setText(
                f"A request failed (attempt {event.attempt}); trying again in "
                f"{duration_words(event.wait_seconds)}. {event.message}"
            )
            self.retry_label.show()
        elif isinstance(event, RunEnded):
            self._ended = True
            self._show_end(event.outcome, event.message, event.done, event.failed)
        elif isinstance(event, RunResult):
            self._result = event

    @Slot()
    def _on_finished(self) -> None:
        task, result = self._task, self._result
        if task is None:
            return
        if result is None:
            # Cancelled before it started, or the worker died before it could say how it ended.
            result = (
                RunResult(outcome="cancelled", message="Cancelled before anything was sent.")
                if task.cancelled
                else RunResult(outcome="stopped", message="The run stopped unexpectedly.")
            )
            self._result = result
        if self._plan is None:
            # It stopped before it knew what to send: there is no progress to show.
            self.progress_area.hide()
        if not self._ended:
            self._show_end(
                result.outcome, result.message, result.embedded + result.cached, len(result.failed)
            )
        self._task = None
        self.retry_label.hide()
        self._update_controls()
        self.run_finished.emit(result)

    def _show_plan(self, event: RunPlanned) -> None:
        self._plan = event
        self._emulated = event.emulated
        self._update_banner()
        self.progress_bar.setRange(0, max(1, event.total))
        self.progress_bar.setValue(event.cached)
        to_send = event.total - event.cached
        if to_send == 0:
            self.headline.setText(
                f"All {_plural(event.total, 'image')} are already embedded with these "
                "settings: nothing to send."
            )
            return
        already = f" ({event.cached} already embedded)" if event.cached else ""
        self.headline.setText(
            f"Sending {_plural(to_send, 'image')}{already} in {_plural(event.requests, 'request')}…"
        )

    def _show_progress(self, event: Progress) -> None:
        self.progress_bar.setRange(0, max(1, event.total))
        self.progress_bar.setValue(event.done + event.failed)
        self.counts_label.setText(counts_words(event.done, event.total, event.failed))
        parts = [f"Requests: {event.requests_done} of {event.requests_total}"]
        parts.append(f"Retries: {event.retries}")
        finished = event.done + event.failed >= event.total
        if not finished and self._task is not None and event.eta_seconds >= 1:
            parts.append(f"Time left: {duration_words(event.eta_seconds)}")
        parts.append(f"Images billed: {event.billed_images:g}")
        self.details_label.setText("   ·   ".join(parts))

    def _show_end(self, outcome: str, message: str, done: int, failed: int) -> None:
        plan = self._plan
        if outcome == "completed" and plan is not None and plan.total == plan.cached:
            text = (
                f"Nothing to send: all {_plural(plan.total, 'image')} were already embedded "
                "with these settings."
            )
        elif outcome == "completed":
            text = f"Done: {_plural(done, 'image')} embedded"
            if plan is not None and plan.cached:
                text += f" ({plan.cached} of them earlier)"
            text += f", {failed} failed (see the list below)." if failed else "."
        elif outcome == "cancelled":
            text = f"Cancelled after {_plural(done, 'image')}; every vector that arrived is kept."
        elif message.startswith(KEY_REFUSED_PREFIX):
            text = "Stopped before sending any image."
            rest = html.escape(message.removeprefix(KEY_REFUSED_PREFIX))
            self.key_problem_label.setText(f"<b>{KEY_REFUSED_PREFIX}</b>{rest}")
            self.key_problem.show()
        else:
            text = f"Stopped: {message}"
        self.headline.setText(text)

    def _add_row(self, path: str, message: str, *, failed: bool) -> None:
        name = os.path.basename(path) or path
        row = QListWidgetItem(self._failed_icon if failed else self._ok_icon, f"{name} — {message}")
        row.setData(PATH_ROLE, path)
        row.setToolTip(f"{path}\n{message}")
        self.results.show()
        self.spacer.hide()
        if failed:
            # Problems stay on top, in the order they happened.
            self.results.insertItem(self._failed_rows, row)
            self._failed_rows += 1
        else:
            self.results.addItem(row)

    @Slot(QListWidgetItem)
    def _on_item_clicked(self, row: QListWidgetItem) -> None:
        path = row.data(PATH_ROLE)
        if isinstance(path, str):
            self.item_activated.emit(path)

    # -- state ----------------------------------------------------------------------------

    def _update_controls(self) -> None:
        running = self._task is not None
        self.run_button.setEnabled(self._can_run and not running)
        self.cancel_button.setEnabled(running)
        self.reason_label.setText("" if running else self._reason)
        self.headline.setVisible(bool(self.headline.text()))

    def _update_banner(self) -> None:
        if self._offline:
            self.banner_label.setText(OFFLINE_BANNER)
        elif self._emulated:
            self.banner_label.setText(EMULATED_BANNER)
        self.banner.setVisible(self._offline or self._emulated)
