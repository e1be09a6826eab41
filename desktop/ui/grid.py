"""The image grid: thumbnails with a status badge each, and a place to drop files and folders.

:class:`ImageGrid` is a ``QListView`` in icon mode over an :class:`~desktop.ui.item_model.
ItemListModel` (usually through a :class:`~desktop.ui.item_model.StatusFilterModel`).
:class:`BadgeDelegate` paints each cell: the thumbnail, its badge (see :mod:`desktop.ui.badges`)
and the file name. The grid only says what the user did (dropped paths, asked to delete); the
window passes that on to the controller.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import (
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QPalette,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from desktop.ui.badges import BadgePainter
from desktop.ui.item_model import Cell, CellRole, PathRole
from desktop.workers.thumbnails import THUMBNAIL_SIZE

#: Space around the thumbnail inside a cell, and between the thumbnail and the name.
CELL_MARGIN: Final = 8
NAME_GAP: Final = 4
EMPTY_TEXT: Final = "Drop images or folders here"
#: The smallest area a badge is laid out on (see :meth:`BadgeDelegate._badge_anchor`).
MIN_BADGE_BOX: Final = QSize(96, 72)

AnyIndex = QModelIndex | QPersistentModelIndex


class BadgeDelegate(QStyledItemDelegate):
    """Paints a cell: thumbnail (never enlarged), badge, and the file name under it."""

    def __init__(self, thumbnail_size: int = THUMBNAIL_SIZE, parent: QWidget | None = None):
        super().__init__(parent)
        self.thumbnail_size = thumbnail_size
        self._badges = BadgePainter()
        self._line_heights: dict[str, int] = {}
        self._names: dict[tuple[str, str, int], str] = {}

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        """Every cell is the same size (the grid uses uniform item sizes)."""
        side = self.thumbnail_size + 2 * CELL_MARGIN
        return QSize(side, side + NAME_GAP + self._line_height(option.font))

    def thumbnail_rect(self, cell: QRect) -> QRect:
        """Where the thumbnail box sits in *cell*."""
        left = cell.left() + (cell.width() - self.thumbnail_size) // 2
        return QRect(left, cell.top() + CELL_MARGIN, self.thumbnail_size, self.thumbnail_size)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        """Paint the cell of *index*.

        Kept to few calls into Qt: each may wait for Python's lock while workers read images
        (tests/bench/bench_ui.py), so geometry is plain arithmetic and badges are cached.
        """
        content = index.data(CellRole)
        if not isinstance(content, Cell):
            return
        cell: QRect = option.rect
        x, y, width = cell.x(), cell.y(), cell.width()
        state = option.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        painter.save()
        if selected or state & QStyle.StateFlag.State_MouseOver:
            self._paint_highlight(painter, option, selected)

        size = self.thumbnail_size
        box_left, box_top = x + (width - size) // 2, y + CELL_MARGIN
        box_bottom = box_top + size
        shown_w, shown_h = content.width, content.height
        if shown_w > size or shown_h > size:
            scale = min(size / shown_w, size / shown_h)
            shown_w, shown_h = round(shown_w * scale), round(shown_h * scale)
        # Bottom-aligned, so the picture sits right above its name.
        left, top = box_left + (size - shown_w) // 2, box_bottom - shown_h
        painter.drawPixmap(QRect(left, top, shown_w, shown_h), content.picture)
        # A small picture would vanish under its badge: lay the badge out on a larger area.
        least_w, least_h = min(MIN_BADGE_BOX.width(), size), MIN_BADGE_BOX.height()
        right = left + shown_w
        if shown_w < least_w or shown_h < least_h:
            least_left = box_left + (size - least_w) // 2
            left, right = min(left, least_left), max(right, least_left + least_w)
            top = min(top, box_bottom - least_h)
        ratio = painter.device().devicePixelRatioF() or 1.0
        self._badges.paint_at(painter, left, top, right, box_bottom, content.badge, ratio)

        line = self._line_height(option.font)
        text = self._elided(option.font, content.name, width - 8)
        # The selection is a light tint behind the whole cell, so the text keeps its colour.
        painter.setFont(option.font)
        painter.setPen(option.palette.color(QPalette.ColorRole.Text))
        painter.drawText(
            QRect(x + 4, box_bottom + NAME_GAP, width - 8, line),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
            text,
        )
        painter.restore()

    def _paint_highlight(
        self, painter: QPainter, option: QStyleOptionViewItem, selected: bool
    ) -> None:
        highlight = option.palette.color(QPalette.ColorRole.Highlight)
        fill = QColor(highlight)
        fill.setAlpha(70 if selected else 25)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(highlight if selected else fill)
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(option.rect).adjusted(1.5, 1.5, -1.5, -1.5), 6, 6)

    def _line_height(self, font: QFont) -> int:
        key = font.key()
        height = self._line_heights.get(key)
        if height is None:
            height = self._line_heights[key] = QFontMetrics(font).height()
        return height

    def _elided(self, font: QFont, name: str, width: int) -> str:
        key = (font.key(), name, width)
        text = self._names.get(key)
        if text is None:
            if len(self._names) > 20_000:
                self._names.clear()
            metrics = QFontMetrics(font)
            text = self._names[key] = metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, width)
        return text


def local_paths(mime: QMimeData) -> list[str]:
    """The local files and folders a drag carries (``text/uri-list``); other data gives none."""
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


class ImageGrid(QListView):
    """A grid of thumbnails that takes dropped files and folders.

    Signals:
        paths_dropped(list): local paths (files and folders) dropped on the grid.
        delete_requested(): the user pressed Delete or Backspace to remove the selection.
    """

    paths_dropped = Signal(list)
    delete_requested = Signal()

    def __init__(self, parent: QWidget | None = None, thumbnail_size: int = THUMBNAIL_SIZE):
        super().__init__(parent)
        self.setObjectName("imageGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(thumbnail_size, thumbnail_size))
        self.setSpacing(4)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionRectVisible(True)
        self.setMouseTracking(True)
        self.setDragEnabled(False)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDropIndicatorShown(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setAccessibleName("Images")
        self.setToolTip("")
        self.delegate = BadgeDelegate(thumbnail_size, self)
        self.setItemDelegate(self.delegate)
        #: What an empty grid says in its middle ('' for nothing, when the window says it).
        self.empty_text = EMPTY_TEXT

    def selected_paths(self) -> list[str]:
        """The paths of the selected items, in the order shown."""
        rows = sorted(self.selectionModel().selectedIndexes(), key=lambda ix: ix.row())
        return [str(ix.data(PathRole)) for ix in rows if ix.data(PathRole) is not None]

    # -- Qt overrides ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept a drag that carries local files or folders; refuse anything else."""
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        """Keep accepting the drag anywhere over the grid (files are added, not placed)."""
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Hand the dropped paths on (:attr:`paths_dropped`)."""
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.paths_dropped.emit(paths)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Delete and Backspace ask to remove the selection; other keys navigate as usual."""
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            event.accept()
            self.delete_requested.emit()
            return
        super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Paint the items, or say what to do when there are none."""
        super().paintEvent(event)
        model = self.model()
        if not self.empty_text or (model is not None and model.rowCount() > 0):
            return
        painter = QPainter(self.viewport())
        colour = self.palette().color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(colour)
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        painter.setFont(font)
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        painter.drawText(self.viewport().rect().adjusted(12, 12, -12, -12), flags, self.empty_text)
        painter.end()
