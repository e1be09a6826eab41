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
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
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

from desktop.ui.badges import paint_badge
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

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        """Every cell is the same size (the grid uses uniform item sizes)."""
        line = QFontMetrics(option.font).height()
        side = self.thumbnail_size + 2 * CELL_MARGIN
        return QSize(side, side + NAME_GAP + line)

    def thumbnail_rect(self, cell: QRect) -> QRect:
        """Where the thumbnail box sits in *cell*."""
        left = cell.left() + (cell.width() - self.thumbnail_size) // 2
        return QRect(left, cell.top() + CELL_MARGIN, self.thumbnail_size, self.thumbnail_size)

    def _badge_anchor(self, shown: QRectF, box: QRect) -> QRectF:
        """Where the badge goes: the picture's corners, but never a rect smaller than
        :data:`MIN_BADGE_BOX` (a tiny picture would vanish under its badge)."""
        least = QRectF(0, 0, min(MIN_BADGE_BOX.width(), box.width()), MIN_BADGE_BOX.height())
        least.moveCenter(QRectF(box).center())
        least.moveBottom(box.bottom())
        if shown.width() >= least.width() and shown.height() >= least.height():
            return shown
        return shown.united(least)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        """Paint the cell of *index*."""
        cell: QRect = option.rect
        state: QStyle.StateFlag = option.state
        palette: QPalette = option.palette
        selected = bool(state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if selected or state & QStyle.StateFlag.State_MouseOver:
            colour = palette.color(QPalette.ColorRole.Highlight)
            colour.setAlpha(70 if selected else 25)
            painter.setPen(palette.color(QPalette.ColorRole.Highlight) if selected else colour)
            painter.setBrush(colour)
            painter.drawRoundedRect(QRectF(cell).adjusted(1.5, 1.5, -1.5, -1.5), 6, 6)

        box = self.thumbnail_rect(cell)
        content = index.data(CellRole)
        if not isinstance(content, Cell):
            painter.restore()
            return
        pixmap = content.picture
        shown = QRectF(box)
        if not pixmap.isNull():
            ratio = pixmap.devicePixelRatio() or 1.0
            size = QSize(round(pixmap.width() / ratio), round(pixmap.height() / ratio))
            if size.width() > box.width() or size.height() > box.height():
                size = size.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            # Bottom-aligned, so the picture sits right above its name.
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(box.center())
            target.moveBottom(box.bottom())
            painter.drawPixmap(target, pixmap)
            shown = QRectF(target)
        paint_badge(painter, self._badge_anchor(shown, box), content.badge)

        metrics = QFontMetrics(option.font)
        name_rect = QRect(
            cell.left() + 4, box.bottom() + NAME_GAP, cell.width() - 8, metrics.height()
        )
        elided = metrics.elidedText(content.name, Qt.TextElideMode.ElideMiddle, name_rect.width())
        # The selection is a light tint behind the whole cell, so the text keeps its colour.
        painter.setFont(option.font)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.drawText(
            name_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, elided
        )
        painter.restore()


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
        if model is not None and model.rowCount() > 0:
            return
        painter = QPainter(self.viewport())
        colour = self.palette().color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(colour)
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        painter.setFont(font)
        painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, EMPTY_TEXT)
        painter.end()
