"""The image grid: drops, keys, lazy thumbnails and the badges it paints."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QMimeData, QObject, QPointF, QRect, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem, QWidget
from pytestqt.qtbot import QtBot

from desktop.core.models import Settings
from desktop.core.rules import Status
from desktop.ui.badges import Badge, Symbol, paint_badge
from desktop.ui.controller import SessionController
from desktop.ui.grid import ImageGrid
from desktop.ui.item_model import ItemListModel, StatusFilterModel, StatusRole
from desktop.ui.severity_icons import ERROR_COLOUR, OK_COLOUR, WARNING_COLOUR
from tests import imagegen


@dataclass
class Window:
    """The grid wired to a controller the way the main window wires it."""

    controller: SessionController
    model: ItemListModel
    proxy: StatusFilterModel
    grid: ImageGrid


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[Window]:
    controller = SessionController()
    model = ItemListModel(controller)
    proxy = StatusFilterModel()
    proxy.setSourceModel(model)
    grid = ImageGrid()
    qtbot.addWidget(grid)
    grid.setModel(proxy)
    grid.paths_dropped.connect(controller.add_paths)
    grid.resize(760, 520)
    grid.show()
    qtbot.waitExposed(grid)
    yield Window(controller, model, proxy, grid)
    controller.shutdown()


def drag_event(kind: type[QDragMoveEvent], point: QPointF, mime: QMimeData) -> QDragMoveEvent:
    """A drag event at *point*: PySide6 6.12 wants a QPointF (its QPoint form is deprecated),
    earlier versions take only a QPoint."""
    args = (
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    make: Any = kind  # the accepted point type depends on the PySide6 version
    try:
        event: QDragMoveEvent = make(point, *args)
    except TypeError:
        event = make(point.toPoint(), *args)
    return event


def drop(view: ImageGrid, mime: QMimeData) -> tuple[bool, bool]:
    """Drag *mime* over *view* and drop it; whether the enter and the drop were accepted."""
    target = view.viewport()
    point = QPointF(20, 20)
    enter = drag_event(QDragEnterEvent, point, mime)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False, False
    QApplication.sendEvent(target, drag_event(QDragMoveEvent, point, mime))
    dropped = QDropEvent(
        point,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(target, dropped)
    return True, dropped.isAccepted()


def files_mime(paths: list[Path]) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def test_dropping_files_and_a_folder_fills_the_grid(
    qtbot: QtBot, window: Window, tmp_path: Path
) -> None:
    folder = tmp_path / "holiday"
    in_folder = imagegen.photo_folder(folder, 5, 80, 60)
    loose = [
        imagegen.save(imagegen.photo(120, 90), tmp_path / "loose.jpg", "JPEG"),
        imagegen.cmyk_jpeg(tmp_path / "print.jpg", 120, 90),
    ]
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    mime = files_mime([folder, *loose, tmp_path / "broken.jpg"])

    with qtbot.waitSignal(window.grid.paths_dropped, timeout=2000) as dropped:
        entered, accepted = drop(window.grid, mime)

    assert entered
    assert accepted
    assert dropped.args[0] == [str(folder), *map(str, loose), str(tmp_path / "broken.jpg")]
    expected = len(in_folder) + len(loose) + 1
    qtbot.waitUntil(lambda: window.proxy.rowCount() == expected, timeout=5000)

    def statuses() -> list[Any]:
        return [window.proxy.index(r, 0).data(StatusRole) for r in range(expected)]

    qtbot.waitUntil(lambda: None not in statuses(), timeout=10_000)
    assert sorted(statuses()) == sorted([Status.ERROR.value] + [Status.OK.value] * (expected - 1))
    assert window.controller.wait_idle(10_000)


def test_text_and_web_links_are_refused(qtbot: QtBot, window: Window) -> None:
    text = QMimeData()
    text.setText("/home/someone/picture.jpg")
    web = QMimeData()
    web.setUrls([QUrl("https://example.invalid/picture.jpg")])

    with qtbot.assertNotEmitted(window.grid.paths_dropped):
        assert drop(window.grid, text) == (False, False)
        assert drop(window.grid, web) == (False, False)
    assert window.model.rowCount() == 0


@pytest.mark.parametrize("key", [Qt.Key.Key_Delete, Qt.Key.Key_Backspace])
def test_delete_and_backspace_ask_to_remove_the_selection(
    qtbot: QtBot, window: Window, tmp_path: Path, key: Qt.Key
) -> None:
    paths = imagegen.photo_folder(tmp_path, 4, 80, 60)
    window.controller.add_paths([str(p) for p in paths])
    qtbot.waitUntil(lambda: window.proxy.rowCount() == 4, timeout=5000)
    selection = window.grid.selectionModel()
    for row in (1, 3):
        selection.select(window.proxy.index(row, 0), selection.SelectionFlag.Select)
    assert window.grid.selected_paths() == [str(paths[1]), str(paths[3])]

    with qtbot.waitSignal(window.grid.delete_requested, timeout=1000):
        QTest.keyClick(window.grid, key)
    window.controller.remove_paths(window.grid.selected_paths())

    assert window.proxy.rowCount() == 2
    assert window.controller.wait_idle(10_000)
    assert [item.path for item in window.controller.session.items] == [
        str(paths[0]),
        str(paths[2]),
    ]


def test_only_rows_on_screen_ask_for_thumbnails(
    qtbot: QtBot, window: Window, tmp_path: Path
) -> None:
    paths = imagegen.distinct_jpegs(tmp_path / "many", 120, 200, 150)
    window.controller.add_paths([str(tmp_path / "many")])
    qtbot.waitUntil(lambda: window.model.rowCount() == 120, timeout=5000)
    assert window.controller.wait_idle(10_000)
    window.grid.viewport().update()

    qtbot.waitUntil(lambda: window.model.has_thumbnail(str(paths[0])), timeout=5000)
    assert window.controller.wait_idle(10_000, thumbnails=True)
    assert not window.model.has_thumbnail(str(paths[-1])), "far below the fold"

    window.grid.scrollToBottom()
    qtbot.waitUntil(lambda: window.model.has_thumbnail(str(paths[-1])), timeout=5000)
    assert window.controller.wait_idle(10_000, thumbnails=True)


def dominant_share(image: QImage, colour: QColor) -> float:
    """The share of *image*'s pixels within a small distance of *colour*."""
    near = 0
    for y in range(image.height()):
        for x in range(image.width()):
            pixel = image.pixelColor(x, y)
            distance = (
                abs(pixel.red() - colour.red())
                + abs(pixel.green() - colour.green())
                + abs(pixel.blue() - colour.blue())
            )
            near += distance < 40
    return near / (image.width() * image.height())


@pytest.mark.parametrize(
    ("symbol", "colour"),
    [(Symbol.OK, OK_COLOUR), (Symbol.WARNING, WARNING_COLOUR), (Symbol.ERROR, ERROR_COLOUR)],
)
def test_each_badge_paints_its_own_colour_in_the_corner(
    qtbot: QtBot, symbol: Symbol, colour: QColor
) -> None:
    canvas = QImage(160, 120, QImage.Format.Format_ARGB32_Premultiplied)
    canvas.fill(QColor("black"))
    painter = QPainter(canvas)
    paint_badge(painter, canvas.rect().toRectF(), Badge(symbol, "preparing…"))
    painter.end()

    corner = canvas.copy(canvas.width() - 32, 0, 32, 32)
    assert dominant_share(corner, colour) > 0.15
    others = [c for c in (OK_COLOUR, WARNING_COLOUR, ERROR_COLOUR) if c != colour]
    assert all(dominant_share(corner, c) < 0.02 for c in others)
    note = canvas.copy(0, 90, 80, 30)
    assert dominant_share(note, QColor("black")) < 0.9, "the note is painted at the bottom"


def test_the_delegate_paints_the_thumbnail_badge_and_name(
    qtbot: QtBot, window: Window, tmp_path: Path
) -> None:
    path = imagegen.save(imagegen.graphic(160, 120, seed=3), tmp_path / "flat.png", "PNG")
    window.controller.add_paths([str(path)])
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    window.model.index(0).data(Qt.ItemDataRole.DecorationRole)
    assert window.controller.wait_idle(10_000, thumbnails=True)
    index = window.proxy.index(0, 0)
    option = QStyleOptionViewItem()
    option.initFrom(window.grid)
    size = window.grid.delegate.sizeHint(option, index)
    option.rect = QRect(0, 0, size.width(), size.height())
    canvas = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    canvas.fill(QColor("white"))
    painter = QPainter(canvas)
    window.grid.delegate.paint(painter, option, index)
    painter.end()

    box = window.grid.delegate.thumbnail_rect(option.rect)
    thumbnail = canvas.copy(box.left(), box.bottom() - 60, 60, 60)
    assert dominant_share(thumbnail, QColor("white")) < 0.9, "the picture is drawn"
    corner = canvas.copy(box.right() - 30, box.bottom() - 120, 30, 30)
    assert dominant_share(corner, OK_COLOUR) > 0.15, "a green tick: ready to send"
    name_strip = canvas.copy(0, box.bottom() + 2, size.width(), size.height() - box.bottom() - 2)
    assert dominant_share(name_strip, QColor("white")) < 0.99, "the name is written"


def test_an_empty_grid_says_what_to_do(qtbot: QtBot, window: Window) -> None:
    shot = window.grid.grab().toImage()

    middle = shot.copy(shot.width() // 4, shot.height() // 2 - 15, shot.width() // 2, 30)
    background = window.grid.viewport().palette().color(window.grid.viewport().backgroundRole())
    assert dominant_share(middle, background) < 0.995, "a hint is written in the middle"


def test_a_settings_change_changes_the_badges_shown(
    qtbot: QtBot, window: Window, tmp_path: Path
) -> None:
    # Under 3,136 pixels: embed-v4.0 warns that the server enlarges it; v3 models do not.
    tiny = [imagegen.save(imagegen.photo(50, 40, seed=n), tmp_path / f"t{n}.png") for n in range(3)]
    window.controller.add_paths([str(p) for p in tiny])
    qtbot.waitUntil(lambda: window.proxy.rowCount() == 3, timeout=5000)
    assert window.controller.wait_idle(10_000, thumbnails=True)

    def corner_share(colour: QColor) -> float:
        shot = window.grid.grab().toImage()
        box = window.grid.delegate.thumbnail_rect(window.grid.visualRect(window.proxy.index(2, 0)))
        # The badge of a picture this small sits on a 96 x 72 area centred on the box's bottom.
        return dominant_share(shot.copy(box.left() + 90, box.bottom() - 75, 45, 40), colour)

    assert corner_share(WARNING_COLOUR) > 0.05
    window.controller.set_settings(Settings(model="embed-english-v3.0"))
    assert window.controller.wait_idle(10_000)
    assert corner_share(WARNING_COLOUR) < 0.005
    assert corner_share(OK_COLOUR) > 0.05


class PaintCounter(QObject):
    """Counts the paint events a widget receives."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Count paint events; let every event through."""
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_changes_repaint_the_grid_only_when_a_changed_row_is_on_screen(
    qtbot: QtBot, window: Window, tmp_path: Path
) -> None:
    imagegen.distinct_jpegs(tmp_path / "many", 120)
    window.controller.add_paths([str(tmp_path / "many")])
    qtbot.waitUntil(lambda: window.model.rowCount() == 120, timeout=5000)
    assert window.controller.wait_idle(10_000, thumbnails=True)
    QApplication.processEvents()
    paints = PaintCounter(window.grid.viewport())
    session = window.controller.session
    far = [s.sha256 for s in map(session.sent_of, range(100, 110)) if s is not None]

    window.controller.mark_embedded(far)  # rows far below the fold
    QApplication.processEvents()
    assert paints.count == 0

    near = [s.sha256 for s in map(session.sent_of, range(0, 3)) if s is not None]
    window.controller.mark_embedded(near)
    QApplication.processEvents()
    assert paints.count > 0
