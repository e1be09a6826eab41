"""The badge on each thumbnail: where an image stands, readable at a glance.

A badge has up to three parts, each with its own shape as well as its colour (for people who
cannot tell the colours apart):

* a symbol in the top right corner: a green circle with a tick (ready to send), an amber
  triangle with "!" (a warning), a red octagon with a cross (will not be sent), a blue rounded
  square with a tick (embedded: its vector is stored), a dark red diamond with "!" (the run
  could not embed it). The first three are the severity icons the rest of the window uses.
* a note in words at the bottom left while something is under way or has happened: "reading…",
  "preparing…", "embedded", "failed".
* a small blue "i" next to the symbol when the app changes the image before sending it
  (shrinks, converts, turns upright ...).

Everything here paints on the GUI thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPolygonF,
)

from desktop.core.rules import RULES_BY_CODE, Finding, Severity, Status
from desktop.core.session import Progress
from desktop.ui.severity_icons import severity_pixmap

EMBEDDED_COLOUR: Final = QColor("#1f5fbf")
FAILED_COLOUR: Final = QColor("#9c1c1c")
BUSY_COLOUR: Final = QColor("#4a4f57")

#: The symbol's size in pixels, and the white disc behind it that keeps it readable on any
#: photo.
SYMBOL_SIZE: Final = 22
_HALO: Final = 3


class Symbol(StrEnum):
    """The symbol in a thumbnail's corner."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    EMBEDDED = "embedded"
    FAILED = "failed"


#: Words for each symbol, for tooltips and screen readers.
SYMBOL_WORDS: Final[dict[Symbol | None, str]] = {
    None: "Not read yet",
    Symbol.OK: "Ready to send",
    Symbol.WARNING: "Will be sent, but check the warning",
    Symbol.ERROR: "Will not be sent",
    Symbol.EMBEDDED: "Embedded: its vector is stored",
    Symbol.FAILED: "Could not be embedded",
}

_NOTES: Final = {
    Progress.READING: "reading…",
    Progress.PREPARING: "preparing…",
    Progress.EMBEDDED: "embedded",
    Progress.FAILED: "failed",
}

_STATUS_SYMBOLS: Final = {
    Status.OK: Symbol.OK,
    Status.WARNING: Symbol.WARNING,
    Status.ERROR: Symbol.ERROR,
}


@dataclass(frozen=True, slots=True)
class Badge:
    """What a thumbnail's badge shows.

    Attributes:
        symbol: the corner symbol, or ``None`` while the file is being read.
        note: words at the bottom ("reading…", "preparing…", "embedded", "failed"), or ''.
        changed: whether the app changes the image before sending it.
    """

    symbol: Symbol | None
    note: str = ""
    changed: bool = False

    @property
    def words(self) -> str:
        """The badge in words (tooltips, screen readers)."""
        text = SYMBOL_WORDS[self.symbol]
        if self.note in ("reading…", "preparing…"):
            text = "Reading the file…" if self.symbol is None else f"{text} (being prepared…)"
        if self.changed:
            text += "; the app changes it before sending"
        return text


def badge_for(
    status: Status | str | None, progress: Progress | str, findings: list[Finding]
) -> Badge:
    """The badge of an item with this *status*, *progress* and *findings*."""
    progress = Progress(progress)
    if progress is Progress.READING or status is None:
        return Badge(None, _NOTES[Progress.READING])
    if progress is Progress.EMBEDDED:
        symbol = Symbol.EMBEDDED
    elif progress is Progress.FAILED:
        symbol = Symbol.FAILED
    else:
        symbol = _STATUS_SYMBOLS[Status(status)]
    changed = symbol is not Symbol.ERROR and any(
        (rule := RULES_BY_CODE.get(f.code)) is not None and rule.transforms for f in findings
    )
    return Badge(symbol, _NOTES.get(progress, ""), changed)


#: A pixmap and its width and height in device-independent pixels.
_Sized = tuple[QPixmap, float, float]


class BadgePainter:
    """Paints badges, drawing each distinct one only once.

    A grid repaints dozens of cells at a time, and every call from Python into Qt may have to
    wait for Python's lock while workers read images; a cached badge is one call instead of
    thirty. Keep one per view: the pixmaps live (and die) with it, on the GUI thread.
    """

    def __init__(self) -> None:
        # Each pixmap with its size in device-independent pixels.
        self._corners: dict[tuple[Symbol, bool, float], _Sized] = {}
        self._notes: dict[tuple[str, float], _Sized] = {}

    def paint(self, painter: QPainter, box: QRectF, badge: Badge) -> None:
        """Paint *badge* over a thumbnail occupying *box*."""
        ratio = painter.device().devicePixelRatioF() or 1.0
        self.paint_at(painter, box.left(), box.top(), box.right(), box.bottom(), badge, ratio)

    def paint_at(
        self,
        painter: QPainter,
        left: float,
        top: float,
        right: float,
        bottom: float,
        badge: Badge,
        ratio: float = 1.0,
    ) -> None:
        """Paint *badge* over a thumbnail between these edges, on a device of pixel *ratio*."""
        if badge.symbol is not None:
            corner, width, _height = self._corner(badge.symbol, badge.changed, ratio)
            painter.drawPixmap(QPointF(right - width - 2, top + 2), corner)
        if badge.note:
            note, _width, height = self._note(badge.note, ratio)
            painter.drawPixmap(QPointF(left + 4, bottom - height - 4), note)

    def _corner(self, symbol: Symbol, changed: bool, ratio: float) -> _Sized:
        key = (symbol, changed, ratio)
        cached = self._corners.get(key)
        if cached is not None:
            return cached
        side = SYMBOL_SIZE + 2 * _HALO
        small = SYMBOL_SIZE * 0.7
        extra = small + 2 * _HALO + 1 if changed else 0.0
        pixmap = _blank(side + extra + 1, side + 1, ratio)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        main = QRectF(extra + _HALO, _HALO, SYMBOL_SIZE, SYMBOL_SIZE)
        _halo(painter, main)
        _symbol(painter, main, symbol)
        if changed:
            info = QRectF(_HALO, main.center().y() - small / 2, small, small)
            _halo(painter, info)
            painter.drawPixmap(info.toRect(), severity_pixmap(Severity.INFO, round(small)))
        painter.end()
        self._corners[key] = sized = (pixmap, side + extra + 1, side + 1)
        return sized

    def _note(self, text: str, ratio: float) -> _Sized:
        key = (text, ratio)
        cached = self._notes.get(key)
        if cached is not None:
            return cached
        font = QFont()
        font.setPixelSize(11)
        font.setBold(True)
        metrics = QFontMetricsF(font)
        width = metrics.horizontalAdvance(text) + 12
        height = metrics.height() + 4
        pixmap = _blank(width + 1, height + 1, ratio)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = {"embedded": EMBEDDED_COLOUR, "failed": FAILED_COLOUR}.get(text, BUSY_COLOUR)
        _pill(painter, QRectF(0.5, 0.5, width, height), text, colour, font)
        painter.end()
        self._notes[key] = sized = (pixmap, width + 1, height + 1)
        return sized


def paint_badge(painter: QPainter, box: QRectF, badge: Badge) -> None:
    """Paint *badge* over a thumbnail occupying *box* (once; views keep a BadgePainter)."""
    BadgePainter().paint(painter, box, badge)


def _blank(width: float, height: float, ratio: float) -> QPixmap:
    pixmap = QPixmap(math.ceil(width * ratio), math.ceil(height * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    return pixmap


def _halo(painter: QPainter, rect: QRectF) -> None:
    painter.setPen(QPen(QColor(0, 0, 0, 60), 1))
    painter.setBrush(QColor(255, 255, 255, 235))
    painter.drawEllipse(rect.adjusted(-_HALO + 0.5, -_HALO + 0.5, _HALO - 0.5, _HALO - 0.5))


def _symbol(painter: QPainter, rect: QRectF, symbol: Symbol) -> None:
    if symbol is Symbol.EMBEDDED:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(EMBEDDED_COLOUR)
        painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), 4, 4)
        _tick(painter, rect)
    elif symbol is Symbol.FAILED:
        centre = rect.center()
        half = rect.width() / 2
        diamond = QPolygonF(
            [
                QPointF(centre.x(), centre.y() - half),
                QPointF(centre.x() + half, centre.y()),
                QPointF(centre.x(), centre.y() + half),
                QPointF(centre.x() - half, centre.y()),
            ]
        )
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(FAILED_COLOUR)
        painter.drawPolygon(diamond)
        _mark(painter, rect)
    else:
        severity = {
            Symbol.OK: None,
            Symbol.WARNING: Severity.WARNING,
            Symbol.ERROR: Severity.ERROR,
        }[symbol]
        painter.drawPixmap(rect.toRect(), severity_pixmap(severity, round(rect.width())))


def _tick(painter: QPainter, rect: QRectF) -> None:
    pen = QPen(QColor("white"), rect.width() / 8)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    x, y, w, h = rect.left(), rect.top(), rect.width(), rect.height()
    path = QPainterPath(QPointF(x + 0.27 * w, y + 0.52 * h))
    path.lineTo(x + 0.44 * w, y + 0.70 * h)
    path.lineTo(x + 0.74 * w, y + 0.32 * h)
    painter.drawPath(path)


def _mark(painter: QPainter, rect: QRectF) -> None:
    """A white "!" drawn as a bar and a dot (crisper than text at this size)."""
    pen = QPen(QColor("white"), rect.width() / 7)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    x = rect.center().x()
    painter.drawLine(QPointF(x, rect.top() + rect.height() * 0.28), QPointF(x, rect.center().y()))
    painter.drawPoint(QPointF(x, rect.top() + rect.height() * 0.72))


def _pill(painter: QPainter, pill: QRectF, text: str, colour: QColor, font: QFont) -> None:
    painter.setPen(QPen(QColor(255, 255, 255, 200), 1))
    fill = QColor(colour)
    fill.setAlpha(235)
    painter.setBrush(fill)
    radius = pill.height() / 2
    painter.drawRoundedRect(pill, radius, radius)
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
