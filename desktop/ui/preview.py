"""The selected item: the original and what will be sent side by side, and why they differ.

Text comes straight from the session (cheap, on the GUI thread). The pictures are decoded on a
worker (:mod:`desktop.workers.previewing`); a newer selection cancels older work and any late
answer for an older selection is ignored.
"""

from __future__ import annotations

import functools
import html
import os
from collections.abc import Sequence
from typing import Final

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.core.assess import Sent, display_path
from desktop.core.images import Probe
from desktop.core.models import DECOMPRESSION_BOMB_PIXELS
from desktop.core.rules import Severity, Status, size_words
from desktop.core.session import Progress, Session, SessionItem
from desktop.ui.controller import SessionController
from desktop.ui.findings_list import FindingsList
from desktop.ui.rule_help import RuleHelpDialog, show_rule_help
from desktop.ui.severity_icons import severity_pixmap
from desktop.ui.side_by_side import SideBySide
from desktop.workers.previewing import PreviewImages, PreviewJob, make_preview
from desktop.workers.tasks import Task, TaskPool, run_task

EMPTY_TEXT: Final = "Select an image to see what will be sent"
UNCHANGED_TEXT: Final = "Sent unchanged (byte for byte as the file is)"

_STATE_WORDS: Final[dict[Progress, tuple[Severity | None, str]]] = {
    Progress.READING: (Severity.INFO, "Reading the file…"),
    Progress.PREPARING: (Severity.INFO, "Working out exactly what will be sent…"),
    Progress.EMBEDDED: (None, "Embedded: its vectors are stored and ready to export."),
}


def _bytes_words(n: int) -> str:
    return f"{size_words(n)} ({n:,} bytes)" if n >= 1024 else size_words(n)


def _facts_html(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><td style='color: gray; padding-right: 8px'>{html.escape(name)}</td>"
        f"<td>{html.escape(value)}</td></tr>"
        for name, value in rows
    )
    return f"<table cellspacing='0' cellpadding='1'>{cells}</table>"


def shown_path(path: str) -> str:
    """*path* as people read it: the home folder written as ``~``, undecodable bytes escaped."""
    home = os.path.expanduser("~")
    if home not in ("", "/") and (path == home or path.startswith(home + os.sep)):
        path = "~" + path[len(home) :]
    return display_path(path)


def original_facts(probe: Probe) -> list[tuple[str, str]]:
    """The original's facts as (name, value) rows for people."""
    rows = [
        ("Format", (probe.format or "?").upper()),
        ("Size", f"{probe.width} x {probe.height} pixels"),
        ("File size", _bytes_words(probe.file_bytes)),
    ]
    if probe.frames > 1:
        rows.append(("Frames", f"{probe.frames} (an animation)"))
    if probe.orientation not in (0, 1):
        rows.append(("Stored", f"turned by the camera (EXIF orientation {probe.orientation})"))
    return rows


def sent_facts(sent: Sent) -> list[tuple[str, str]]:
    """What will be sent as (name, value) rows for people (API names where they help)."""
    return [
        ("Type", sent.mime),
        ("Size", f"{sent.width} x {sent.height} pixels"),
        ("Image bytes", _bytes_words(sent.bytes)),
        ("Base64 size", f"{sent.data_url_chars:,} characters in the data URL"),
    ]


def _mono() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def _read_only_line(parent: QWidget) -> QLineEdit:
    line = QLineEdit(parent)
    line.setReadOnly(True)
    line.setFont(_mono())
    line.setFrame(False)
    return line


def _heading(text: str, parent: QWidget) -> QLabel:
    label = QLabel(f"<b>{html.escape(text)}</b>", parent)
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


class _SingleItemView(QWidget):
    """The widgets that show one item (owned and filled by :class:`PreviewPanel`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLabel(self)
        self.name.setTextFormat(Qt.TextFormat.PlainText)  # a file name is never markup
        font = self.name.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.name.setFont(font)
        self.path = QLineEdit(self)
        self.path.setReadOnly(True)
        self.path.setFrame(False)

        self.state_icon = QLabel(self)
        self.state = QLabel(self)
        self.state.setTextFormat(Qt.TextFormat.PlainText)  # carries the server's own words
        self.state.setWordWrap(True)
        self.state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        state_row = QHBoxLayout()
        state_row.addWidget(self.state_icon, 0, Qt.AlignmentFlag.AlignTop)
        state_row.addWidget(self.state, 1)

        self.images = SideBySide(self)
        self.original_facts = QLabel(self)
        self.sent_facts = QLabel(self)
        for label in (self.original_facts, self.sent_facts):
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            label.setWordWrap(True)
        pair = QGridLayout()
        pair.addWidget(_heading("Original", self), 0, 0)
        pair.addWidget(_heading("What will be sent", self), 0, 1)
        pair.addWidget(self.images, 1, 0, 1, 2)
        pair.addWidget(self.original_facts, 2, 0)
        pair.addWidget(self.sent_facts, 2, 1)
        pair.setColumnStretch(0, 1)
        pair.setColumnStretch(1, 1)

        self.changes = QLabel(self)
        self.changes.setTextFormat(Qt.TextFormat.RichText)
        self.changes.setWordWrap(True)
        self.changes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.sha_title = QLabel("Fingerprint of the bytes sent (sha256)", self)
        self.sha256 = _read_only_line(self)
        self.sha256.setToolTip(
            "The sha256 digest of the exact image bytes in the data URL. The same image "
            "always gives the same fingerprint; the app uses it to never pay for an image twice."
        )
        self.copy_sha = QPushButton("Copy", self)
        self.copy_sha.setToolTip("Copy the sha256 to the clipboard")
        sha_row = QHBoxLayout()
        sha_row.addWidget(self.sha256, 1)
        sha_row.addWidget(self.copy_sha)

        self.url_title = QLabel("Start of the data URL (how the image travels in the request)")
        self.data_url = _read_only_line(self)
        self.data_url.setToolTip(
            "Images travel inside the request as a data URL: the type, then the image bytes "
            "written as base64 text."
        )

        self.findings = FindingsList("Nothing to report: this image is fine as it is.", self)

        layout = QVBoxLayout(self)
        layout.addWidget(self.name)
        layout.addWidget(self.path)
        layout.addLayout(state_row)
        layout.addLayout(pair)
        layout.addWidget(self.changes)
        layout.addSpacing(4)
        layout.addWidget(self.sha_title)
        layout.addLayout(sha_row)
        layout.addWidget(self.url_title)
        layout.addWidget(self.data_url)
        line = QFrame(self)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout.addWidget(line)
        layout.addWidget(_heading("What the app found", self))
        layout.addWidget(self.findings)
        layout.addStretch(1)


class PreviewPanel(QWidget):
    """Shows the selected item (or a summary of several) and what will be sent for it.

    Call :meth:`show_items` when the selection changes and :meth:`shutdown` at exit.

    Attributes:
        view: the widgets of the one-item page (images, facts, findings).
        help_dialog: the last rule explanation opened from a finding (for tests).
    """

    def __init__(self, controller: SessionController, parent: QWidget | None = None) -> None:
        """A panel showing items of *controller*'s session."""
        super().__init__(parent)
        self._controller = controller
        self._selection: list[int] = []
        self._token = 0
        self._task: Task | None = None
        self._job_key: tuple[object, ...] | None = None
        self._worker_sent: Sent | None = None
        self._data_url_head = ""
        self._pool = TaskPool(2, "preview")
        self.help_dialog: RuleHelpDialog | None = None

        self.empty = QLabel(EMPTY_TEXT, self)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.summary = QLabel(self)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.summary.setMargin(12)
        self.view = _SingleItemView()
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.view)
        self.pages = QStackedWidget(self)
        for page in (self.empty, self.summary, scroll):
            self.pages.addWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        self.view.copy_sha.clicked.connect(self._copy_sha)
        self.view.findings.help_requested.connect(self._open_help)
        controller.items_changed.connect(self._on_items_changed)
        controller.items_removed.connect(self._on_items_removed)
        controller.settings_changed.connect(self._on_settings_changed)

    @property
    def session(self) -> Session:
        """The session shown."""
        return self._controller.session

    # -- what the window calls ---------------------------------------------------------------

    def show_items(self, indices: Sequence[int]) -> None:
        """Show the items at *indices* (the selection): nothing, one item, or a summary."""
        self._selection = [n for n in indices if 0 <= n < len(self.session.items)]
        self._render()

    @property
    def busy(self) -> bool:
        """Whether preview work is under way."""
        return self._pool.busy

    def shutdown(self) -> None:
        """Cancel preview work and wait for it (at exit)."""
        self._pool.shutdown()

    # -- reacting to the controller ----------------------------------------------------------

    @Slot(list)
    def _on_items_changed(self, indices: list[int]) -> None:
        if set(indices) & set(self._selection):
            self._render()

    @Slot()
    def _on_items_removed(self) -> None:
        self.show_items([])

    @Slot(object)
    def _on_settings_changed(self, _settings: object) -> None:
        if self._selection:
            self._render()

    # -- rendering ---------------------------------------------------------------------------

    def _render(self) -> None:
        if not self._selection:
            self._forget_job()
            self.pages.setCurrentWidget(self.empty)
        elif len(self._selection) > 1:
            self._forget_job()
            self.summary.setText(self._summary_html())
            self.pages.setCurrentWidget(self.summary)
        else:
            self._render_item(self._selection[0])
            self.pages.setCurrentIndex(2)

    def _summary_html(self) -> str:
        session = self.session
        counts = dict.fromkeys(("reading", "ok", "warning", "error"), 0)
        sent_bytes = 0
        for n in self._selection:
            item = session.items[n]
            counts["reading" if item.status is None else item.status.value] += 1
            sent = session.sent_of(n)
            if sent is not None:
                sent_bytes += sent.bytes
        parts = [
            (counts["ok"], "ready to send"),
            (counts["warning"], "will be sent, with a warning"),
            (counts["error"], "will not be sent"),
            (counts["reading"], "still being read"),
        ]
        lines = "".join(f"<li>{n:,} {words}</li>" for n, words in parts if n)
        return (
            f"<p><b>{len(self._selection):,} images selected</b></p><ul>{lines}</ul>"
            f"<p>Together they send {html.escape(size_words(sent_bytes))} of image data "
            "(duplicates counted each time). Select one image to see it.</p>"
        )

    def _render_item(self, index: int) -> None:
        session, view = self.session, self.view
        item = session.items[index]
        view.name.setText(item.name)
        view.path.setText(shown_path(item.path))
        view.path.setCursorPosition(0)
        view.path.setToolTip(item.path)
        self._render_state(index, item)
        probe = item.probe
        view.findings.set_findings(item.findings)
        if probe is None or not probe.ok:
            self._forget_job()
            view.original_facts.setText("")
            text = "Reading the file…" if probe is None else "This file cannot be read."
            view.images.clear(text)
            self._render_sent(None, will_send=False)
            return
        view.original_facts.setText(_facts_html(original_facts(probe)))
        will_send = item.status is not Status.ERROR
        key = (item.path, probe.sha256, session.key, will_send)
        if key != self._job_key:
            self._start_job(key, probe, will_send)
        sent = session.sent_of(index) or (self._worker_sent if will_send else None)
        self._render_sent(sent, will_send)

    def _render_state(self, index: int, item: SessionItem) -> None:
        progress = self._controller.progress(index)
        if progress is Progress.FAILED:
            severity: Severity | None = Severity.ERROR
            words = f"The last run could not embed this image: {item.run_error}"
        elif progress in _STATE_WORDS:
            severity, words = _STATE_WORDS[progress]
        elif item.status is Status.ERROR:
            severity, words = Severity.ERROR, "Will not be sent: see what the app found below."
        elif item.status is Status.WARNING:
            severity, words = Severity.WARNING, "Ready to send, with a warning (see below)."
        else:
            severity, words = None, "Ready to send."
        self.view.state_icon.setPixmap(severity_pixmap(severity))
        self.view.state.setText(words)

    def _render_sent(self, sent: Sent | None, will_send: bool) -> None:
        view = self.view
        has_sent = sent is not None
        for widget in (view.sha_title, view.sha256, view.copy_sha, view.url_title, view.data_url):
            widget.setVisible(has_sent)
        if sent is None:
            view.sent_facts.setText(
                "Working out what will be sent…" if will_send else "Nothing is sent for it."
            )
            view.changes.setText("")
            return
        view.sent_facts.setText(_facts_html(sent_facts(sent)))
        view.sha256.setText(sent.sha256)
        view.sha256.setCursorPosition(0)
        view.data_url.setText(self._data_url_head or "…")
        view.data_url.setCursorPosition(0)
        if sent.unchanged:
            view.changes.setText(f"&#10003; {UNCHANGED_TEXT}")
        else:
            items = "".join(f"<li>{html.escape(c)}</li>" for c in sent.changes)
            view.changes.setText(f"<b>What the app changes before sending:</b><ul>{items}</ul>")

    # -- the worker --------------------------------------------------------------------------

    def _forget_job(self) -> None:
        self._pool.cancel_all()
        self._task = None
        self._job_key = None
        self._worker_sent = None
        self._data_url_head = ""

    def _start_job(self, key: tuple[object, ...], probe: Probe, will_send: bool) -> None:
        self._forget_job()
        self._job_key = key
        self._token += 1
        images = self.view.images
        if probe.pixels > DECOMPRESSION_BOMB_PIXELS:
            images.clear("Too many pixels to open safely: not shown.")
            return
        images.set_image(0, None, "Decoding…")
        images.set_image(1, None, "Working out what will be sent…" if will_send else "Not sent")
        job = PreviewJob(self._token, probe, self.session.settings, will_send)
        self._task = run_task(
            self._pool,
            functools.partial(make_preview, job),
            "preview",
            progress=self._on_images,
            result=self._on_images,
            failed=self._on_failed,
        )

    @Slot(object)
    def _on_images(self, found: object) -> None:
        if not isinstance(found, PreviewImages) or found.token != self._token:
            return  # an answer for an older selection
        images = self.view.images
        images.set_image(0, found.original, found.original_error)
        if not found.complete:
            return
        if found.sent is not None or found.sent_error:
            images.set_image(1, found.sent, found.sent_error)
        elif found.sent_info is None:
            images.set_image(1, None, "Not sent")
        self._worker_sent = found.sent_info
        self._data_url_head = found.data_url_head
        if len(self._selection) == 1:
            self._render_item(self._selection[0])

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self._task is None or self.sender() is not self._task.signals:
            return
        self.view.images.clear(f"The preview failed: {message}")

    # -- buttons and links -------------------------------------------------------------------

    @Slot()
    def _copy_sha(self) -> None:
        QGuiApplication.clipboard().setText(self.view.sha256.text())

    @Slot(str, str)
    def _open_help(self, code: str, detail: str) -> None:
        self.help_dialog = show_rule_help(code, detail, self)
