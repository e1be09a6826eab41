"""The request inspector: one planned request exactly as it will be sent, and ways to copy it.

The window keeps one inspector and calls :meth:`RequestInspector.inspect` with a request's
position in the plan and the base URL in use. A worker prepares the request's images and
builds the texts; the dialog shows the body with data URLs shortened and copies the whole
body, a curl command or Python code. None of them contains the key: they name ``$CO_API_KEY``.
"""

from __future__ import annotations

import functools
import html
from enum import StrEnum
from typing import Final

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.keys import ENV_VAR
from desktop.core.rules import size_words
from desktop.ui.controller import SessionController
from desktop.ui.plan_model import body_words
from desktop.workers.requests import (
    BuildProgress,
    BuiltRequest,
    RequestProblem,
    build_request,
    request_job,
)
from desktop.workers.tasks import Task, TaskPool, run_task

KEY_NOTE: Final = (
    f"The key is never copied: the curl command and the Python code read it from the "
    f"environment variable {ENV_VAR} (written as ${ENV_VAR}). Set it in your shell first."
)


class CopyKind(StrEnum):
    """What a copy button puts on the clipboard."""

    JSON = "request JSON"
    CURL = "curl command"
    PYTHON = "Python code"


class RequestInspector(QDialog):
    """Shows one planned request and copies it; not modal, reused for each request.

    Attributes:
        text: the read-only view of the request body (data URLs shortened).
        status: a line saying what is happening (building, copied, a problem).
        copy_buttons: the three copy buttons by what they copy.
        built: the request last built, or ``None``.
    """

    def __init__(self, controller: SessionController, parent: QWidget | None = None) -> None:
        """An inspector for requests planned from *controller*'s session."""
        super().__init__(parent)
        self._controller = controller
        self._pool = TaskPool(1, "request inspector")
        self._task: Task | None = None
        self.built: BuiltRequest | None = None
        self.setWindowTitle("Inspect request")

        self.heading = QLabel(self)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.heading.setWordWrap(True)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setToolTip(
            "The JSON body of the request. Each image is a data URL; only its first "
            "characters are shown here. The copy buttons copy them whole."
        )
        self.key_note = QLabel(KEY_NOTE, self)
        self.key_note.setWordWrap(True)
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # carries file names
        self.status.setWordWrap(True)

        self.copy_buttons: dict[CopyKind, QPushButton] = {}
        tips = {
            CopyKind.JSON: "Copy the whole request body, exactly as it is sent.",
            CopyKind.CURL: "Copy a shell command that sends this very request with curl.",
            CopyKind.PYTHON: "Copy Python code that sends this request with Cohere's SDK.",
        }
        labels = {
            CopyKind.JSON: "Copy request JSON",
            CopyKind.CURL: "Copy as curl",
            CopyKind.PYTHON: "Copy as Python",
        }
        buttons = QHBoxLayout()
        for kind in CopyKind:
            button = QPushButton(labels[kind], self)
            button.setToolTip(tips[kind])
            button.setProperty("copy_kind", kind.value)
            button.clicked.connect(self._on_copy_clicked)
            self.copy_buttons[kind] = button
            buttons.addWidget(button)
        buttons.addStretch(1)
        close = QPushButton("Close", self)
        close.clicked.connect(self.reject)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.key_note)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.resize(760, 560)
        self._set_copyable(False)

    # -- what the window calls -----------------------------------------------------------------

    def inspect(self, number: int, base_url: str) -> None:
        """Build planned request *number* (0-based) bound for *base_url*, and show the dialog."""
        self._drop_work()
        self.built = None
        self._set_copyable(False)
        self.text.setPlainText("")
        job = request_job(self._controller.session, number, base_url)
        if isinstance(job, RequestProblem):
            self.heading.setText("<b>Request not available</b>")
            self.status.setText(job.message)
        else:
            count = len(job.probes)
            self.heading.setText(
                f"<b>Request {number + 1} of {job.of}</b>: {count:,} "
                f"image{'s' if count != 1 else ''}, sent to "
                f"<code>{html.escape(base_url.rstrip('/'))}/v2/embed</code>"
            )
            self.status.setText(f"Preparing {count:,} image{'s' if count != 1 else ''}…")
            self._task = run_task(
                self._pool,
                functools.partial(build_request, job),
                "inspect request",
                progress=self._on_progress,
                result=self._on_built,
                failed=self._on_failed,
            )
        self.show()
        self.raise_()

    def text_for(self, kind: CopyKind) -> str:
        """What the button for *kind* copies ('' until the request is built)."""
        built = self.built
        if built is None:
            return ""
        return {
            CopyKind.JSON: built.full_json,
            CopyKind.CURL: built.curl,
            CopyKind.PYTHON: built.python,
        }[kind]

    def copy(self, kind: CopyKind) -> None:
        """Put the text for *kind* on the clipboard."""
        text = self.text_for(kind)
        if not text:
            return
        QGuiApplication.clipboard().setText(text)
        self.status.setText(
            f"Copied the {kind.value} ({size_words(len(text))}) to the clipboard. "
            f"It uses ${ENV_VAR} for the key."
            if kind is not CopyKind.JSON
            else f"Copied the request JSON ({size_words(len(text))}) to the clipboard."
        )

    def shutdown(self) -> None:
        """Cancel the build under way and wait for it (at exit)."""
        self._pool.shutdown()

    # -- the worker ------------------------------------------------------------------------------

    def _drop_work(self) -> None:
        self._pool.cancel_all()
        self._task = None

    def _is_current(self) -> bool:
        return self._task is not None and self.sender() is self._task.signals

    @Slot(object)
    def _on_progress(self, progress: object) -> None:
        if self._is_current() and isinstance(progress, BuildProgress):
            self.status.setText(f"Preparing image {progress.done:,} of {progress.total:,}…")

    @Slot(object)
    def _on_built(self, built: object) -> None:
        if not self._is_current():
            return
        self._task = None
        if isinstance(built, RequestProblem):
            self.status.setText(f"The request cannot be built: {built.message}")
            return
        if not isinstance(built, BuiltRequest):
            return
        self.built = built
        self.text.setPlainText(built.readable)
        self.status.setText(
            f"The body is {built.body_bytes:,} bytes: {body_words(built.body_bytes)}, the most "
            "one request may carry."
        )
        self._set_copyable(True)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self._is_current():
            self._task = None
            self.status.setText(f"The request cannot be built: {message}")

    # -- buttons -----------------------------------------------------------------------------------

    @Slot()
    def _on_copy_clicked(self) -> None:
        sender = self.sender()
        kind = sender.property("copy_kind") if sender is not None else None
        if isinstance(kind, str):
            self.copy(CopyKind(kind))

    def _set_copyable(self, enabled: bool) -> None:
        for button in self.copy_buttons.values():
            button.setEnabled(enabled)

    def done(self, result: int) -> None:
        """Closing (button, Escape or the window's close box) drops the build under way."""
        self._drop_work()
        super().done(result)
