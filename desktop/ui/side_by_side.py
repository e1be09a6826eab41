"""Two images side by side, always drawn at one shared scale.

The images arrive already scaled by one factor (see :mod:`desktop.workers.previewing`); this
widget shrinks both by one more common factor when it is too small to show them whole, so the
ratio between them always stays true: an image the app shrinks before sending looks smaller.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPaintEvent, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop.workers.previewing import PREVIEW_BOX

GAP: Final = 16
MARGIN: Final = 4
#: The height of the dashed box standing in for an image not (yet) shown.
PLACEHOLDER_HEIGHT: Final = 120
_CHECKER: Final = 8


def _checkerboard() -> QPixmap:
    """A light grey checkerboard tile, to show where an image is transparent."""
    tile = QPixmap(2 * _CHECKER, 2 * _CHECKER)
    tile.fill(QColor("#ffffff"))
    painter = QPainter(tile)
    painter.fillRect(0, 0, _CHECKER, _CHECKER, QColor("#d8d8d8"))
    painter.fillRect(_CHECKER, _CHECKER, _CHECKER, _CHECKER, QColor("#d8d8d8"))
    painter.end()
    return tile


class SideBySide(QWidget):
    """Paints a left and a right image at the same scale, or a placeholder text for either."""

    def __init__(self, parent: QWidget | None = None) -> None:
        """An empty pair."""
        super().__init__(parent)
        self._pixmaps: list[QPixmap | None] = [None, None]
        self._texts = ["", ""]
        self._checker = _checkerboard()
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)  # narrower means smaller images, so less height
        self.setSizePolicy(policy)

    def set_image(self, side: int, image: QImage | None, text: str = "") -> None:
        """Show *image* on *side* (0 left, 1 right), or *text* in its place when it is None."""
        self._pixmaps[side] = QPixmap.fromImage(image) if image is not None else None
        self._texts[side] = text
        self.updateGeometry()
        self.update()

    def clear(self, text: str = "") -> None:
        """Show *text* on both sides instead of images."""
        for side in (0, 1):
            self.set_image(side, None, text)

    def image_size(self, side: int) -> QSize:
        """The size of the image given for *side* (empty when there is none)."""
        pixmap = self._pixmaps[side]
        return pixmap.size() if pixmap is not None else QSize()

    def common_factor(self) -> float:
        """The extra shrink applied to both images so they fit (1.0 when they fit already)."""
        sizes = [p.size() for p in self._pixmaps if p is not None]
        if not sizes:
            return 1.0
        half = (self.width() - GAP) / 2 - 2 * MARGIN
        tall = self.height() - 2 * MARGIN
        widest = max(s.width() for s in sizes)
        tallest = max(s.height() for s in sizes)
        return max(0.01, min(1.0, half / widest, tall / tallest))

    def displayed_sizes(self) -> tuple[QSize, QSize]:
        """The sizes the two images are drawn at right now (empty for a missing image)."""
        factor = self.common_factor()
        out = []
        for pixmap in self._pixmaps:
            if pixmap is None:
                out.append(QSize())
            else:
                out.append(
                    QSize(
                        max(1, round(pixmap.width() * factor)),
                        max(1, round(pixmap.height() * factor)),
                    )
                )
        return out[0], out[1]

    def hasHeightForWidth(self) -> bool:
        """The height follows the width: both images shrink together to fit it."""
        return True

    def heightForWidth(self, width: int) -> int:
        """The height the images need at *width* (or room for the placeholder texts)."""
        sizes = [p.size() for p in self._pixmaps if p is not None]
        if not sizes:
            return PLACEHOLDER_HEIGHT + 2 * MARGIN
        half = (width - GAP) / 2 - 2 * MARGIN
        widest = max(s.width() for s in sizes)
        tallest = max(s.height() for s in sizes)
        factor = max(0.01, min(1.0, half / widest))
        tall = round(tallest * factor)
        if None in self._pixmaps:  # one side still shows a placeholder text
            tall = max(tall, PLACEHOLDER_HEIGHT)
        return tall + 2 * MARGIN

    def sizeHint(self) -> QSize:
        """Room for both images at full preview size (or their actual height)."""
        width = 2 * PREVIEW_BOX + GAP
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:
        """Small, since the images shrink together to fit."""
        return QSize(200, 2 * MARGIN + 16)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Draw each image centred in its half, top-aligned, on a checkerboard."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        half = (self.width() - GAP) // 2
        sizes = self.displayed_sizes()
        for side in (0, 1):
            area = QRect(side * (half + GAP), 0, half, self.height())
            pixmap = self._pixmaps[side]
            if pixmap is None:
                self._paint_text(painter, area, self._texts[side])
                continue
            size = sizes[side]
            target = QRect(
                area.left() + (area.width() - size.width()) // 2,
                MARGIN,
                size.width(),
                size.height(),
            )
            painter.fillRect(target, QBrush(self._checker))
            painter.drawPixmap(target, pixmap)
            painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Mid), 1))
            painter.drawRect(target.adjusted(0, 0, -1, -1))
        painter.end()

    def _paint_text(self, painter: QPainter, area: QRect, text: str) -> None:
        box = area.adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)
        box.setHeight(min(box.height(), PLACEHOLDER_HEIGHT))
        pen = QPen(self.palette().color(QPalette.ColorRole.Mid), 1, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRect(box)
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        painter.drawText(box.adjusted(8, 8, -8, -8), int(flags), text)
