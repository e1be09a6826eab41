"""The request plan as a table: one row per request, its images and its body size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    Qt,
)
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from desktop.core.batching import PlannedRequest
from desktop.core.models import MAX_BODY_BYTES
from desktop.core.rules import body_mb

#: Role holding a request's body size as a fraction of the 20 MB bar (a float).
BODY_FRACTION_ROLE: Final = Qt.ItemDataRole.UserRole + 1

COLUMN_REQUEST: Final = 0
COLUMN_IMAGES: Final = 1
COLUMN_BODY: Final = 2
_HEADERS: Final = ("Request", "Images", "Body size (the limit is 20 MB)")

_ModelIndex = QModelIndex | QPersistentModelIndex


def images_words(count: int, limit: int) -> str:
    """``"96 of 96 images"``: a request's images against the model's limit."""
    return f"{count:,} of {limit:,} image{'s' if limit != 1 else ''}"


def body_words(body_bytes: int) -> str:
    """``"4.1 MB of 20 MB"`` (or ``"45 KB of 20 MB"``): a request's body against the bar.

    Decimal units, as the 20 MB limit is counted.
    """
    if body_bytes >= 1_000_000:
        size = body_mb(body_bytes)
    elif body_bytes >= 1000:
        size = f"{body_bytes / 1000:.0f} KB"
    else:
        size = f"{body_bytes} bytes"
    return f"{size} of {body_mb(MAX_BODY_BYTES)}"


class PlanModel(QAbstractTableModel):
    """Read-only rows for a list of :class:`PlannedRequest`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        """An empty plan."""
        super().__init__(parent)
        self._requests: list[PlannedRequest] = []
        self._limit = 1

    def set_plan(self, requests: Sequence[PlannedRequest], images_per_request: int) -> None:
        """Show *requests*; *images_per_request* is the model's limit."""
        self.beginResetModel()
        self._requests = list(requests)
        self._limit = max(1, images_per_request)
        self.endResetModel()

    def rowCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        """One row per request (none under a valid parent: this is a flat table)."""
        return 0 if parent.isValid() else len(self._requests)

    def columnCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Request number, images, body size."""
        return 0 if parent.isValid() else len(_HEADERS)

    def data(self, index: _ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        """Text for display and tooltips, and the body's fraction of the bar."""
        if not index.isValid() or not 0 <= index.row() < len(self._requests):
            return None
        request = self._requests[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == COLUMN_REQUEST:
                return str(index.row() + 1)
            if column == COLUMN_IMAGES:
                return images_words(len(request.items), self._limit)
            if column == COLUMN_BODY:
                return body_words(request.body_bytes)
        if role == Qt.ItemDataRole.ToolTipRole and column == COLUMN_BODY:
            return (
                f"The JSON body of this request is {request.body_bytes:,} bytes; one request "
                f"may be at most {MAX_BODY_BYTES:,} bytes."
            )
        if role == BODY_FRACTION_ROLE and column == COLUMN_BODY:
            return request.body_bytes / MAX_BODY_BYTES
        if role == Qt.ItemDataRole.TextAlignmentRole and column != COLUMN_BODY:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        """Column titles."""
        if (
            orientation is Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(_HEADERS)
        ):
            return _HEADERS[section]
        return None


class BodyBarDelegate(QStyledItemDelegate):
    """Draws a request's body size as a bar that is full at 20 MB, with its text on top."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _ModelIndex) -> None:
        """A track, the filled part (amber near the bar, red over it), then the words."""
        fraction = index.data(BODY_FRACTION_ROLE)
        if not isinstance(fraction, float):
            super().paint(painter, option, index)
            return
        rect: QRect = option.rect.adjusted(2, 3, -2, -3)
        palette: QPalette = option.palette
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, palette.highlight())
        painter.setPen(palette.color(QPalette.ColorRole.Mid))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRect(rect.adjusted(0, 0, -1, -1))
        filled = QRect(rect)
        filled.setWidth(max(1, round(rect.width() * min(1.0, fraction))))
        colour = "#d23030" if fraction > 1 else "#e3a008" if fraction >= 0.9 else "#6aa5e8"
        painter.fillRect(filled.adjusted(1, 1, -1, -1), QColor(colour))
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), str(index.data()))
        painter.restore()
