"""The request plan, live: how many requests, how full each is, and what stands in the way.

The session plans (a pure, cheap function); this panel only renders its answer, at most once
per burst of changes (a short timer gathers them).
"""

from __future__ import annotations

import time
from typing import Final

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.core.batching import PlannedRequest
from desktop.core.rules import Finding, Severity, Status, duration_words, run_seconds
from desktop.core.session import Progress, Session
from desktop.ui.controller import SessionController
from desktop.ui.findings_list import FindingsList
from desktop.ui.plan_model import COLUMN_BODY, BodyBarDelegate, PlanModel
from desktop.ui.rule_help import RuleHelpDialog, show_rule_help

#: How long the panel waits for more changes before it plans again, in milliseconds.
REFRESH_DELAY_MS: Final = 30
#: The wait is at least this many times the last re-plan's cost, so that with tens of thousands
#: of images re-planning takes at most a fifth of the window's time while files still arrive.
REFRESH_COST_RATIO: Final = 4
NOTHING_TO_SEND: Final = "There is nothing to send yet: add images that can be sent."


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


class PlanPanel(QWidget):
    """Shows the request plan and the findings on the run as a whole.

    Signals:
        inspect_requested(int): the person asked to see one planned request; the argument is
            its position in the plan (0-based).
        refreshed(): the plan was rendered again; :meth:`blocking_error` may have changed
            (the window re-reads it to enable or disable Run).

    Attributes:
        summary: the line with the number of images and requests.
        pending: the line about images still being read or prepared (hidden when none).
        table: the requests, one row each.
        findings: the request findings.
        inspect_button: "Inspect request…".
    """

    inspect_requested = Signal(int)
    refreshed = Signal()

    def __init__(self, controller: SessionController, parent: QWidget | None = None) -> None:
        """A panel following *controller*'s plan."""
        super().__init__(parent)
        self._controller = controller
        self._requests: list[PlannedRequest] = []
        self._findings: list[Finding] = []
        self._blocking: str | None = NOTHING_TO_SEND
        self.help_dialog: RuleHelpDialog | None = None

        title = QLabel("<b>Requests to send</b>", self)
        self.summary = QLabel(self)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.pending = QLabel(self)
        self.pending.setWordWrap(True)
        self.pending.setVisible(False)
        self.model = PlanModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(COLUMN_BODY, BodyBarDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setMinimumHeight(90)
        self.table.doubleClicked.connect(self._on_double_clicked)
        self.findings = FindingsList("", self)
        self.findings.help_requested.connect(self._open_help)
        self.inspect_button = QPushButton("Inspect request…", self)
        self.inspect_button.setToolTip(
            "See the exact request the app will send for the selected row, and copy it as "
            "JSON, a curl command or Python code."
        )
        self.inspect_button.clicked.connect(self._on_inspect_clicked)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.inspect_button)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.summary)
        layout.addWidget(self.pending)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.findings)
        layout.addLayout(buttons)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        controller.plan_changed.connect(self._schedule)
        controller.settings_changed.connect(self._schedule)
        controller.items_removed.connect(self._schedule)
        controller.items_changed.connect(self._schedule)
        self.refresh()

    @property
    def session(self) -> Session:
        """The session planned."""
        return self._controller.session

    @property
    def requests(self) -> list[PlannedRequest]:
        """The plan as last rendered."""
        return list(self._requests)

    @property
    def refresh_pending(self) -> bool:
        """Whether a re-plan is scheduled (what is shown may be about to change)."""
        return self._timer.isActive()

    def blocking_error(self) -> str | None:
        """Why a run cannot start now, in plain words, or ``None`` when it can."""
        return self._blocking

    @Slot()
    def _schedule(self) -> None:
        self._timer.start()

    @Slot()
    def refresh(self) -> None:
        """Plan again from the session and show the result."""
        self._timer.stop()
        started = time.perf_counter()
        session = self.session
        spec = session.settings.spec
        requests = session.plan()
        findings = session.request_findings(requests)
        reading, preparing, errors = self._counts()
        waiting = reading + preparing
        self._requests = requests
        self._findings = findings
        self.model.set_plan(requests, spec.max_images_per_request if spec else 1)
        self.findings.set_findings(findings)
        self.summary.setText(self._summary_text(requests, errors))
        self.pending.setVisible(waiting > 0)
        if waiting:
            doing = "read or prepared" if reading else "prepared"
            self.pending.setText(
                f"{_plural(waiting, 'image')} still being {doing} — the plan may change."
            )
        self.inspect_button.setEnabled(bool(requests))
        self._blocking = self._blocking_reason(requests, findings, waiting)
        cost_ms = (time.perf_counter() - started) * 1000
        self._timer.setInterval(max(REFRESH_DELAY_MS, round(cost_ms * REFRESH_COST_RATIO)))
        self.refreshed.emit()

    def _counts(self) -> tuple[int, int, int]:
        """Items still being read, still being prepared, and in error."""
        reading = preparing = errors = 0
        controller = self._controller
        for n, item in enumerate(self.session.items):
            # The controller's progress knows that a duplicate is ready once its first copy is.
            progress = controller.progress(n)
            reading += progress is Progress.READING
            preparing += progress is Progress.PREPARING
            errors += item.status is Status.ERROR
        return reading, preparing, errors

    def _summary_text(self, requests: list[PlannedRequest], errors: int) -> str:
        images = sum(len(r.items) for r in requests)
        if not requests:
            text = "Nothing to send yet."
        else:
            text = f"{_plural(images, 'image')} in {_plural(len(requests), 'request')}."
            settings = self.session.settings
            seconds = run_seconds(images, settings)
            if settings.spec is not None:
                took = "under a minute" if seconds < 60 else duration_words(seconds)
                text += f" At {settings.images_per_minute:,} images per minute this takes {took}."
        if errors:
            text += f" {_plural(errors, 'image')} will not be sent (marked with an error)."
        return text

    @staticmethod
    def _blocking_reason(
        requests: list[PlannedRequest], findings: list[Finding], waiting: int
    ) -> str | None:
        errors = [f for f in findings if f.severity is Severity.ERROR]
        if errors:
            return errors[0].message
        if waiting:
            return f"Wait a moment: {_plural(waiting, 'image')} still being read or prepared."
        if not requests:
            return NOTHING_TO_SEND
        return None

    @Slot()
    def _on_inspect_clicked(self) -> None:
        if not self._requests:
            return
        rows = self.table.selectionModel().selectedRows()
        self.inspect_requested.emit(rows[0].row() if rows else 0)

    @Slot(QModelIndex)
    def _on_double_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.inspect_requested.emit(index.row())

    @Slot(str, str)
    def _open_help(self, code: str, detail: str) -> None:
        self.help_dialog = show_rule_help(code, detail, self)
