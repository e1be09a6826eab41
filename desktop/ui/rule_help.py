"""A small window explaining one rule by its code: what it is about and what the app does."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop.core.rules import REQUEST_RULES_BY_CODE, RULES_BY_CODE, Severity, explanation
from desktop.ui.severity_icons import SEVERITY_WORDS, severity_pixmap


def rule_title(code: str) -> str:
    """A few words naming the rule with *code* (the code itself when it is unknown)."""
    rule = RULES_BY_CODE.get(code) or REQUEST_RULES_BY_CODE.get(code)
    return rule.title if rule else code


def rule_severity(code: str) -> Severity | None:
    """The severity the rule with *code* gives, or ``None`` when it is unknown."""
    rule = RULES_BY_CODE.get(code) or REQUEST_RULES_BY_CODE.get(code)
    return rule.severity if rule else None


class RuleHelpDialog(QDialog):
    """Explains one rule in plain words; not modal, closes with its button.

    Attributes:
        code: the rule's stable code.
        text: the explanation shown (the rule table's own words).
    """

    def __init__(self, code: str, detail: str = "", parent: QWidget | None = None) -> None:
        """Build the dialog for *code*; *detail* is the finding's own message, if any."""
        super().__init__(parent)
        self.code = code
        self.text = explanation(code) or "There is no explanation for this code."
        self.setWindowTitle(f"What does this mean? ({code})")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        severity = rule_severity(code)
        icon = QLabel()
        icon.setPixmap(severity_pixmap(severity, 24))
        icon.setToolTip(SEVERITY_WORDS[severity])
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        title = QLabel(f"<b>{html.escape(rule_title(code))}</b>")
        title.setTextFormat(Qt.TextFormat.RichText)
        head = QHBoxLayout()
        head.addWidget(icon)
        head.addWidget(title, 1)

        kind = SEVERITY_WORDS[severity] if severity else "Unknown rule"
        code_line = QLabel(f"Code: <code>{html.escape(code)}</code> &middot; {html.escape(kind)}")
        code_line.setTextFormat(Qt.TextFormat.RichText)
        code_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.body = QLabel(self.text)
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(code_line)
        layout.addWidget(self.body)
        if detail:
            here = QLabel(f"<i>Here:</i> {html.escape(detail)}")
            here.setTextFormat(Qt.TextFormat.RichText)
            here.setWordWrap(True)
            here.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(here)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)


def show_rule_help(code: str, detail: str = "", parent: QWidget | None = None) -> RuleHelpDialog:
    """Open (not modally) the explanation of the rule with *code*; returns the dialog."""
    dialog = RuleHelpDialog(code, detail, parent)
    dialog.show()
    return dialog
