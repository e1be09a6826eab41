"""A list of findings in plain words: severity icon, title, code, message, and a help link."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Final

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop.core.rules import Finding
from desktop.ui.rule_help import rule_title
from desktop.ui.severity_icons import SEVERITY_WORDS, severity_pixmap

#: Links in a finding's text are ``rule:<code>``.
LINK_PREFIX: Final = "rule:"
HELP_LINK_TEXT: Final = "What does this mean?"


def finding_html(finding: Finding) -> str:
    """One finding as rich text: bold title, the code, the message and the help link."""
    code = html.escape(finding.code)
    return (
        f"<b>{html.escape(rule_title(finding.code))}</b> "
        f"<span style='color: gray'>({code})</span><br>"
        f"{html.escape(finding.message)} "
        f"<a href='{LINK_PREFIX}{code}'>{HELP_LINK_TEXT}</a>"
    )


class FindingsList(QWidget):
    """Shows findings one under the other; a click on a help link asks for the explanation.

    Signals:
        help_requested(str, str): the help link of a finding was clicked; args are the rule's
            code and the finding's message.
    """

    help_requested = Signal(str, str)

    def __init__(self, empty_text: str = "", parent: QWidget | None = None) -> None:
        """*empty_text* is shown when there are no findings (nothing when it is '')."""
        super().__init__(parent)
        self._empty_text = empty_text
        self._messages: dict[str, str] = {}
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self._rows: list[QWidget] = []
        #: The text label of each finding row, in order (for tests and accessibility checks).
        self.labels: list[QLabel] = []
        self.set_findings([])

    def set_findings(self, findings: Sequence[Finding]) -> None:
        """Show *findings* in the order given (replacing what was shown)."""
        for row in self._rows:
            self._layout.removeWidget(row)
            row.hide()  # deleteLater waits for the event loop; it must vanish now
            row.deleteLater()
        self._rows = []
        self.labels = []
        self._messages = {f.code: f.message for f in findings}
        if not findings and self._empty_text:
            empty = QLabel(self._empty_text)
            empty.setWordWrap(True)
            self._add_row(empty)
        for finding in findings:
            self._add_row(self._finding_row(finding))

    def _add_row(self, row: QWidget) -> None:
        self._rows.append(row)
        self._layout.addWidget(row)
        row.show()  # a layout shows new children only once the event loop runs

    def _finding_row(self, finding: Finding) -> QWidget:
        row = QWidget(self)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        icon = QLabel(row)
        icon.setPixmap(severity_pixmap(finding.severity))
        icon.setToolTip(SEVERITY_WORDS[finding.severity])
        icon.setAccessibleName(SEVERITY_WORDS[finding.severity])
        icon.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        icon.setFixedWidth(20)
        text = QLabel(finding_html(finding), row)
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        text.setOpenExternalLinks(False)
        text.linkActivated.connect(self._on_link)
        layout.addWidget(icon)
        layout.addWidget(text, 1)
        self.labels.append(text)
        return row

    @Slot(str)
    def _on_link(self, link: str) -> None:
        if link.startswith(LINK_PREFIX):
            code = link.removeprefix(LINK_PREFIX)
            self.help_requested.emit(code, self._messages.get(code, ""))
