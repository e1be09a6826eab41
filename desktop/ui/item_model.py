"""The session's items as a Qt list model, and a proxy that filters and sorts them.

:class:`ItemListModel` adapts the controller's session for item views: one row per item, in the
session's order. It keeps its own row count, changed only between ``begin``/``end`` calls, so
views (and Qt's model tester) always see a consistent model even though the session itself
changes first. Thumbnails are asked for lazily: only rows a view paints ask for one, and the
pixmaps live in a bounded least-recently-used cache made on the GUI thread.

Custom roles (read them with ``index.data(role)``; Qt hands enum values back as their strings):

* :data:`StatusRole`: the item's :class:`~desktop.core.rules.Status`, or ``None`` while reading.
* :data:`ProgressRole`: its :class:`~desktop.core.session.Progress`.
* :data:`PathRole`: its path (the stable identity; rows shift when items are removed).
* :data:`FindingsRole`: its findings under the current settings (a list of ``Finding``).
* :data:`BadgeRole`: the :class:`~desktop.ui.badges.Badge` its thumbnail shows.
* :data:`CellRole`: a :class:`Cell` with what a grid cell paints (name, picture, badge) in one
  call: every call from a Qt view into Python waits for Python's lock, which worker threads
  hold most of the time while images are being read, so a view painting a cell asks once.
"""

from __future__ import annotations

import html
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRectF,
    QSortFilterProxyModel,
    Qt,
    Slot,
)
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPixmap

from desktop.core.rules import Finding, Status
from desktop.core.session import Progress
from desktop.ui.badges import Badge, badge_for
from desktop.ui.controller import SessionController

_ROLE = Qt.ItemDataRole
StatusRole: Final = int(_ROLE.UserRole) + 1
ProgressRole: Final = int(_ROLE.UserRole) + 2
PathRole: Final = int(_ROLE.UserRole) + 3
FindingsRole: Final = int(_ROLE.UserRole) + 4
BadgeRole: Final = int(_ROLE.UserRole) + 5
CellRole: Final = int(_ROLE.UserRole) + 6

#: Roles whose value changes when an item's probe, findings or run state changes.
ITEM_ROLES: Final = [
    StatusRole,
    ProgressRole,
    FindingsRole,
    BadgeRole,
    CellRole,
    int(_ROLE.ToolTipRole),
    int(_ROLE.AccessibleTextRole),
]

#: How many thumbnails stay in memory (at 160 px, about 75 KB each).
THUMBNAIL_CACHE: Final = 3000

AnyIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class Cell:
    """What a grid cell paints for one item.

    Attributes:
        name: the file name.
        picture: the thumbnail, or a placeholder.
        width: the picture's width in device-independent pixels.
        height: the picture's height in device-independent pixels.
        badge: the badge over the picture.
    """

    name: str
    picture: QPixmap
    width: int
    height: int
    badge: Badge


def placeholder_pixmap(size: int, broken: bool = False) -> QPixmap:
    """A neutral picture-shaped tile shown until a thumbnail arrives (*broken*: no preview)."""
    height = size * 3 // 4
    pixmap = QPixmap(size, height)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    frame = QRectF(0.5, 0.5, size - 1.0, height - 1.0)
    painter.setPen(QPen(QColor(0, 0, 0, 40), 1))
    painter.setBrush(QColor("#e6e8eb"))
    painter.drawRoundedRect(frame, 6, 6)
    glyph = QColor("#c3c8cf")
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(glyph)
    w, h = frame.width(), frame.height()
    mountains = QPainterPath()
    mountains.moveTo(w * 0.28, h * 0.70)
    mountains.lineTo(w * 0.43, h * 0.45)
    mountains.lineTo(w * 0.53, h * 0.60)
    mountains.lineTo(w * 0.60, h * 0.52)
    mountains.lineTo(w * 0.72, h * 0.70)
    mountains.closeSubpath()
    painter.drawPath(mountains)
    painter.drawEllipse(QRectF(w * 0.60, h * 0.26, w * 0.08, w * 0.08))
    if broken:
        pen = QPen(QColor("#8a9099"), max(2.0, size / 40))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawLine(int(w * 0.25), int(h * 0.8), int(w * 0.75), int(h * 0.2))
    painter.end()
    return pixmap


class ItemListModel(QAbstractListModel):
    """The controller's session items as rows (see the module docstring for the roles)."""

    def __init__(
        self,
        controller: SessionController,
        parent: QObject | None = None,
        cache_size: int = THUMBNAIL_CACHE,
    ) -> None:
        super().__init__(parent)
        self._controller = controller
        self._rows = len(controller.session.items)
        self._cache_size = max(1, cache_size)
        # Each thumbnail with its size (asking a pixmap for it is a call into Qt).
        self._pixmaps: OrderedDict[str, tuple[QPixmap, int, int]] = OrderedDict()
        self._no_preview: set[str] = set()
        size = controller.thumbnail_size
        #: Shown until a thumbnail arrives.
        self.placeholder = placeholder_pixmap(size)
        #: Shown for a file that cannot be decoded.
        self.no_preview = placeholder_pixmap(size, broken=True)
        self._placeholder = (self.placeholder, size, self.placeholder.height())
        self._no_preview_sized = (self.no_preview, size, self.no_preview.height())
        controller.items_added.connect(self._on_items_added)
        controller.items_removed.connect(self._on_items_removed)
        controller.items_changed.connect(self._on_items_changed)
        controller.thumbnail_ready.connect(self._on_thumbnail_ready)

    # -- Qt's model interface ----------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        """The number of items (none under an item: this is a flat list)."""
        return 0 if parent.isValid() else self._rows

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        """Items can be selected; nothing is editable."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def data(self, index: AnyIndex, role: int = _ROLE.DisplayRole) -> object:
        """The value of *role* for the item at *index*."""
        row = index.row()
        if not index.isValid() or not 0 <= row < self._rows:
            return None
        session = self._controller.session
        if row >= len(session.items):
            return None
        item = session.items[row]
        if role == _ROLE.DisplayRole:
            return item.name
        if role == _ROLE.DecorationRole:
            return self._thumbnail(item.path)
        if role == StatusRole:
            return item.status
        if role == ProgressRole:
            return self._controller.progress(row)
        if role == PathRole:
            return item.path
        if role == FindingsRole:
            return list(item.findings)
        if role == BadgeRole:
            return self.badge(row)
        if role == CellRole:
            picture, width, height = self._sized_thumbnail(item.path)
            return Cell(item.name, picture, width, height, self.badge(row))
        if role == _ROLE.ToolTipRole:
            return self._tooltip(row)
        if role == _ROLE.AccessibleTextRole:
            return f"{item.name}: {self.badge(row).words}"
        return None

    # -- reading -----------------------------------------------------------------------------

    def badge(self, row: int) -> Badge:
        """The badge of the item at *row*."""
        item = self._controller.session.items[row]
        return badge_for(item.status, self._controller.progress(row), item.findings)

    def has_thumbnail(self, path: str) -> bool:
        """Whether a real thumbnail (not a placeholder) of *path* is in the cache."""
        return path in self._pixmaps

    def _thumbnail(self, path: str) -> QPixmap:
        return self._sized_thumbnail(path)[0]

    def _sized_thumbnail(self, path: str) -> tuple[QPixmap, int, int]:
        sized = self._pixmaps.get(path)
        if sized is not None:
            self._pixmaps.move_to_end(path)
            return sized
        if path in self._no_preview:
            return self._no_preview_sized
        self._controller.request_thumbnail(path)
        return self._placeholder

    def _tooltip(self, row: int) -> str:
        item = self._controller.session.items[row]
        badge = self.badge(row)
        lines = [f"<b>{html.escape(item.name)}</b>"]
        progress = self._controller.progress(row)
        if progress is Progress.FAILED and item.run_error:
            lines.append(f"{badge.words}: {html.escape(item.run_error)}")
        elif progress is Progress.READING:
            lines.append(badge.words)
        else:
            worst = _worst(item.findings)
            words = badge.words
            if worst is not None:
                words += f". {html.escape(worst.message)}"
            lines.append(words)
            more = len(item.findings) - 1
            if more > 0:
                lines.append(f"<i>{more} more note{'s' if more != 1 else ''}: see the details.</i>")
        # "<qt>" makes Qt treat it as rich text, which wraps long lines.
        return "<qt>" + "<br>".join(lines) + "</qt>"

    # -- following the controller ------------------------------------------------------------

    @Slot(list)
    def _on_items_added(self, _indices: list[int]) -> None:
        count = len(self._controller.session.items)
        if count <= self._rows:
            return
        self.beginInsertRows(QModelIndex(), self._rows, count - 1)
        self._rows = count
        self.endInsertRows()

    @Slot()
    def _on_items_removed(self) -> None:
        self.beginResetModel()
        session = self._controller.session
        self._rows = len(session.items)
        present = {item.path for item in session.items}
        for path in [p for p in self._pixmaps if p not in present]:
            del self._pixmaps[path]
        self._no_preview &= present
        self.endResetModel()

    @Slot(list)
    def _on_items_changed(self, indices: list[int]) -> None:
        rows = sorted(n for n in set(indices) if 0 <= n < self._rows)
        for first, last in _runs(rows):
            self.dataChanged.emit(self.index(first), self.index(last), ITEM_ROLES)

    @Slot(str, QImage)
    def _on_thumbnail_ready(self, path: str, image: QImage) -> None:
        row = self._controller.session.index_of(path)
        if row is None or row >= self._rows:
            return
        if image.isNull():
            self._no_preview.add(path)
        else:
            self._pixmaps[path] = (QPixmap.fromImage(image), image.width(), image.height())
            self._pixmaps.move_to_end(path)
            while len(self._pixmaps) > self._cache_size:
                self._pixmaps.popitem(last=False)
        index = self.index(row)
        self.dataChanged.emit(index, index, [int(_ROLE.DecorationRole), CellRole])


def _worst(findings: list[Finding]) -> Finding | None:
    return max(findings, key=lambda f: f.severity.rank, default=None)


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted *rows* as (first, last) runs of consecutive numbers."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


class StatusFilter(StrEnum):
    """Which items a :class:`StatusFilterModel` lets through."""

    ALL = "all"
    OK = "ok"
    WARNINGS = "warnings"
    ERRORS = "errors"
    NOT_EMBEDDED = "not-embedded"


class SortOrder(StrEnum):
    """How a :class:`StatusFilterModel` orders items."""

    ADDED = "added"
    NAME = "name"
    STATUS = "status"


#: Filter names for menus.
FILTER_WORDS: Final = {
    StatusFilter.ALL: "All images",
    StatusFilter.OK: "Ready to send",
    StatusFilter.WARNINGS: "With warnings",
    StatusFilter.ERRORS: "Cannot be sent",
    StatusFilter.NOT_EMBEDDED: "Not embedded yet",
}

#: Sort names for menus.
SORT_WORDS: Final = {
    SortOrder.ADDED: "As added",
    SortOrder.NAME: "By name",
    SortOrder.STATUS: "Problems first",
}

_STATUS_FILTERS: Final = {
    StatusFilter.OK: Status.OK,
    StatusFilter.WARNINGS: Status.WARNING,
    StatusFilter.ERRORS: Status.ERROR,
}
#: Sorting by status puts what needs attention first; items still being read go last.
_STATUS_RANK: Final[dict[str | None, int]] = {
    Status.ERROR.value: 0,
    Status.WARNING.value: 1,
    Status.OK.value: 2,
    None: 3,
}


class StatusFilterModel(QSortFilterProxyModel):
    """Shows the items of one status (or all), sorted as added, by name, or problems first."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._filter = StatusFilter.ALL
        self._order = SortOrder.ADDED
        self.setDynamicSortFilter(True)

    @property
    def status_filter(self) -> StatusFilter:
        """Which items are shown."""
        return self._filter

    @property
    def sort_order(self) -> SortOrder:
        """How items are ordered."""
        return self._order

    def set_filter(self, status_filter: StatusFilter) -> None:
        """Show only the items *status_filter* lets through."""
        if status_filter == self._filter:
            return
        self.beginFilterChange()
        self._filter = StatusFilter(status_filter)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_sort(self, order: SortOrder) -> None:
        """Order the items by *order*."""
        self._order = SortOrder(order)
        if self._order is SortOrder.ADDED:
            self.sort(-1)
        else:
            self.invalidate()
            self.sort(0, Qt.SortOrder.AscendingOrder)

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        """Whether the source row passes the filter."""
        if self._filter is StatusFilter.ALL:
            return True
        model = self.sourceModel()
        index = model.index(source_row, 0, source_parent)
        if self._filter is StatusFilter.NOT_EMBEDDED:
            return bool(index.data(ProgressRole) != Progress.EMBEDDED.value)
        return bool(index.data(StatusRole) == _STATUS_FILTERS[self._filter].value)

    def lessThan(self, left: AnyIndex, right: AnyIndex) -> bool:
        """Order by name, or by status then name; ties keep the order added."""
        if self._order is SortOrder.STATUS:
            rank_l = _STATUS_RANK.get(left.data(StatusRole), 3)
            rank_r = _STATUS_RANK.get(right.data(StatusRole), 3)
            if rank_l != rank_r:
                return rank_l < rank_r
        name_l = str(left.data(_ROLE.DisplayRole) or "").casefold()
        name_r = str(right.data(_ROLE.DisplayRole) or "").casefold()
        if name_l != name_r:
            return name_l < name_r
        return left.row() < right.row()
