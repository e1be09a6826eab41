"""Small drawn icons for a finding's severity: each has its own shape AND colour.

Shape carries the meaning for people who cannot tell the colours apart: a circle with "i" for
info, a triangle with "!" for a warning, an octagon with a cross for an error, and a green
circle with a tick for "all fine". Pixmaps are made on the GUI thread only.
"""

from __future__ import annotations

import math
from typing import Final

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

from desktop.core.rules import Severity

#: Colours that keep their contrast against both light and dark window backgrounds.
INFO_COLOUR: Final = QColor("#2f6fd0")
WARNING_COLOUR: Final = QColor("#e3a008")
ERROR_COLOUR: Final = QColor("#d23030")
OK_COLOUR: Final = QColor("#2e9d48")

#: Words for each severity, for tooltips and for people using a screen reader.
SEVERITY_WORDS: Final[dict[Severity | None, str]] = {
    None: "Fine: nothing to change",
    Severity.INFO: "Info: something the app does for you",
    Severity.WARNING: "Warning: it will be sent, but check this",
    Severity.ERROR: "Error: this will not be sent",
}


def severity_pixmap(severity: Severity | None, size: int = 16) -> QPixmap:
    """The icon for *severity* (``None`` means "fine"), *size* pixels square.

    Drawing one costs microseconds, so nothing is cached (a module-level cache of pixmaps
    would outlive the application object at exit).
    """
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    box = QRectF(0.5, 0.5, size - 1.0, size - 1.0)
    if severity is Severity.WARNING:
        _triangle(painter, box)
    elif severity is Severity.ERROR:
        _octagon(painter, box)
    else:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(INFO_COLOUR if severity is Severity.INFO else OK_COLOUR)
        painter.drawEllipse(box)
        if severity is Severity.INFO:
            _letter(painter, box, "i", QColor("white"))
        else:
            _tick(painter, box)
    painter.end()
    return pixmap


def _triangle(painter: QPainter, box: QRectF) -> None:
    shape = QPolygonF(
        [
            QPointF(box.center().x(), box.top()),
            QPointF(box.right(), box.bottom()),
            QPointF(box.left(), box.bottom()),
        ]
    )
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(WARNING_COLOUR)
    painter.drawPolygon(shape)
    lower = QRectF(box.left(), box.top() + box.height() * 0.2, box.width(), box.height() * 0.8)
    _letter(painter, lower, "!", QColor("black"))


def _octagon(painter: QPainter, box: QRectF) -> None:
    centre, radius = box.center(), box.width() / 2
    points = [
        QPointF(
            centre.x() + radius * math.cos(math.pi / 8 + k * math.pi / 4),
            centre.y() + radius * math.sin(math.pi / 8 + k * math.pi / 4),
        )
        for k in range(8)
    ]
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(ERROR_COLOUR)
    painter.drawPolygon(QPolygonF(points))
    inset = box.width() * 0.3
    pen = QPen(QColor("white"), max(1.5, box.width() / 8))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    inner = box.adjusted(inset, inset, -inset, -inset)
    painter.drawLine(inner.topLeft(), inner.bottomRight())
    painter.drawLine(inner.topRight(), inner.bottomLeft())


def _tick(painter: QPainter, box: QRectF) -> None:
    pen = QPen(QColor("white"), max(1.5, box.width() / 8))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    path = QPainterPath()
    w, h, x, y = box.width(), box.height(), box.left(), box.top()
    path.moveTo(x + 0.27 * w, y + 0.52 * h)
    path.lineTo(x + 0.44 * w, y + 0.70 * h)
    path.lineTo(x + 0.74 * w, y + 0.32 * h)
    painter.drawPath(path)


def _letter(painter: QPainter, box: QRectF, text: str, colour: QColor) -> None:
    font = QFont(painter.font())
    font.setBold(True)
    font.setPixelSize(max(7, round(box.height() * 0.75)))
    painter.setFont(font)
    painter.setPen(colour)
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
