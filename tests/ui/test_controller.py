"""The controller and its workers: reading, judging, preparing and thumbnails, on real files."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QObject, Qt, Slot
from PySide6.QtGui import QImage, QPixmap
from pytestqt.qtbot import QtBot

from desktop.core.assess import Sent
from desktop.core.images import Probe, probe_file
from desktop.core.models import MAX_PIXELS, Settings
from desktop.core.rules import Finding, Severity, Status
from desktop.core.session import Progress
from desktop.ui.badges import Symbol
from desktop.ui.controller import SessionController
from desktop.ui.item_model import (
    BadgeRole,
    FindingsRole,
    ItemListModel,
    PathRole,
    ProgressRole,
    SortOrder,
    StatusFilter,
    StatusFilterModel,
    StatusRole,
)
from desktop.workers.preparing import Prepared, preparing_work
from desktop.workers.reading import Collected, ProbeChunk, reading_work
from desktop.workers.thumbnails import ThumbnailJob, load_thumbnail
from tests import imagegen

V3 = Settings(model="embed-english-v3.0")


@pytest.fixture
def controller() -> Iterator[SessionController]:
    """A controller that is shut down (all work cancelled and waited for) after the test."""
    made = SessionController()
    yield made
    made.shutdown()


@pytest.fixture
def model(controller: SessionController) -> ItemListModel:
    return ItemListModel(controller)


def read(controller: SessionController, paths: list[Path], thumbnails: bool = False) -> None:
    """Add *paths* and wait until everything about them is known."""
    controller.add_paths([str(p) for p in paths])
    assert controller.wait_idle(15_000, thumbnails=thumbnails)
    assert all(item.probe is not None for item in controller.session.items)


def big_jpeg(path: Path, width: int = 1800, height: int = 1500) -> Path:
    """A photo-like JPEG over the model's pixel budget (drawn small and enlarged: quick)."""
    small = imagegen.photo(width // 4, height // 4)
    return imagegen.save(small.resize((width, height)), path, "JPEG", quality=85)


def awkward_folder(folder: Path) -> dict[str, Path]:
    """One file of each awkward kind, by name."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = imagegen.encoded(imagegen.photo(200, 150), "JPEG", quality=85)
    files = {
        "photo": imagegen.save(imagegen.photo(320, 240), folder / "photo.jpg", "JPEG"),
        "truncated": folder / "truncated.jpg",
        "broken_data": folder / "broken_data.jpg",
        "corrupt_png": imagegen.corrupt_data_png(folder / "corrupt.png", 120, 90),
        "sixteen": imagegen.png16(folder / "sixteen.png", 200, 150),
        "cmyk": imagegen.cmyk_jpeg(folder / "cmyk.jpg", 200, 150),
        "rotated": imagegen.jpeg_with_orientation(folder / "rotated.jpg", 200, 100, 6),
        "animated": imagegen.animated_gif(folder / "animated.gif"),
        "not_image": folder / "notes.png",
    }
    files["truncated"].write_bytes(jpeg[: len(jpeg) // 2])
    files["broken_data"].write_bytes(imagegen.jpeg_with_broken_huffman_table(jpeg))
    files["not_image"].write_text("this is text with an image's name")
    return files


def row_of(model: ItemListModel, path: Path) -> QModelIndex:
    for row in range(model.rowCount()):
        index = model.index(row)
        if index.data(PathRole) == str(path):
            return index
    raise AssertionError(f"{path} is not in the model")


# -- reading ---------------------------------------------------------------------------------


def test_a_folder_fills_in_with_a_status_for_every_file_bad_ones_included(
    qtbot: QtBot, controller: SessionController, model: ItemListModel, tmp_path: Path
) -> None:
    files = awkward_folder(tmp_path / "in")

    with qtbot.waitSignal(controller.items_added, timeout=5000) as added:
        controller.add_paths([str(tmp_path / "in")])
    assert sorted(added.args[0]) == list(range(len(files)))
    assert model.rowCount() == len(files)
    assert controller.wait_idle(15_000)

    status = {name: row_of(model, path).data(StatusRole) for name, path in files.items()}
    assert status["truncated"] == Status.ERROR.value
    assert status["not_image"] == Status.ERROR.value
    for name in ("photo", "sixteen", "cmyk", "rotated", "corrupt_png", "broken_data"):
        assert status[name] == Status.OK.value, name
    assert status["animated"] == Status.WARNING.value
    codes = {
        name: [f.code for f in row_of(model, p).data(FindingsRole)] for name, p in files.items()
    }
    assert "color-converted" in codes["sixteen"]
    assert "color-converted" in codes["cmyk"]
    assert "exif-rotated" in codes["rotated"]
    assert codes["truncated"] == ["unreadable"]
    # Every item reached the end of its way: nothing is left "reading" or "preparing".
    progress = {row_of(model, p).data(ProgressRole) for p in files.values()}
    assert progress == {Progress.READY.value}
    badge = row_of(model, files["sixteen"]).data(BadgeRole)
    assert (badge.symbol, badge.changed) == (Symbol.OK, True)
    assert row_of(model, files["truncated"]).data(BadgeRole).symbol is Symbol.ERROR
    tip = row_of(model, files["truncated"]).data(Qt.ItemDataRole.ToolTipRole)
    assert "truncated.jpg" in tip
    assert "cut short" in tip


def test_two_thousand_files_appear_as_placeholders_before_any_is_read(
    qtbot: QtBot, controller: SessionController, model: ItemListModel, tmp_path: Path
) -> None:
    paths = imagegen.distinct_jpegs(tmp_path / "many", 2000)
    seen: dict[str, object] = {}
    recorder = _AddedRecorder(model, controller, seen)
    controller.items_added.connect(recorder.on_added)
    with qtbot.waitSignal(controller.items_added, timeout=10_000):
        controller.add_paths([str(p) for p in paths])

    assert seen["rows"] == 2000, "all placeholders arrive in one go"
    assert seen["progress"] == {Progress.READING}, "before any probe is applied"
    assert seen["changed_before_added"] is None
    assert controller.wait_idle(20_000)
    assert all(item.status is Status.OK for item in controller.session.items)
    assert "2,000 images" in controller.status


def test_shutting_down_while_reading_two_thousand_files_leaves_no_thread(
    qtbot: QtBot, tmp_path: Path
) -> None:
    paths = imagegen.distinct_jpegs(tmp_path / "many", 2000)
    controller = SessionController()
    with qtbot.waitSignal(controller.items_added, timeout=10_000):
        controller.add_paths([str(tmp_path / "many")])
    assert len(controller.session.items) == len(paths)

    controller.shutdown()

    assert not controller.busy
    assert not controller.thumbnails_busy
    # The autouse fixture also checks that no pool, pool thread or Python thread is left.


def test_clearing_while_reading_never_brings_the_items_back(
    qtbot: QtBot, controller: SessionController, model: ItemListModel, tmp_path: Path
) -> None:
    imagegen.distinct_jpegs(tmp_path / "many", 600)
    with qtbot.waitSignal(controller.items_added, timeout=10_000):
        controller.add_paths([str(tmp_path / "many")])

    controller.clear()

    assert model.rowCount() == 0
    assert controller.wait_idle(10_000)
    assert model.rowCount() == 0
    assert controller.session.items == []


def test_removing_items_keeps_the_rest_and_drops_late_results(
    qtbot: QtBot, controller: SessionController, model: ItemListModel, tmp_path: Path
) -> None:
    paths = imagegen.photo_folder(tmp_path / "in", 6, 80, 60)
    with qtbot.waitSignal(controller.items_added, timeout=5000):
        controller.add_paths([str(p) for p in paths])

    with qtbot.waitSignal(controller.items_removed):
        controller.remove([0, 2])  # probably before their probes arrive

    assert model.rowCount() == 4
    assert controller.wait_idle(10_000)
    assert [item.path for item in controller.session.items] == [
        str(p) for p in paths if p not in (paths[0], paths[2])
    ]
    assert all(item.status is Status.OK for item in controller.session.items)

    controller.remove_paths([str(paths[1])])
    controller.clear()
    assert model.rowCount() == 0
    assert controller.status == ""


# -- settings and preparing ------------------------------------------------------------------


def test_switching_to_v3_changes_the_big_images_badge_and_the_plan(
    qtbot: QtBot, controller: SessionController, model: ItemListModel, tmp_path: Path
) -> None:
    small = imagegen.photo_folder(tmp_path / "in", 3, 80, 60)
    big = big_jpeg(tmp_path / "in" / "big.jpg", 2000, 1500)
    read(controller, [*small, big])

    big_row = row_of(model, big)
    assert [f.code for f in big_row.data(FindingsRole)] == ["downsampled"]
    assert big_row.data(BadgeRole).changed
    sent = controller.session.sent_of(big_row.row())
    assert sent is not None
    assert sent.width * sent.height <= MAX_PIXELS
    assert len(controller.session.plan()) == 1

    with qtbot.waitSignal(controller.plan_changed, timeout=5000):
        controller.set_settings(V3)
    # Judged again at once: no file was read for it.
    assert big_row.data(FindingsRole) == []
    badge = big_row.data(BadgeRole)
    assert (badge.symbol, badge.changed) == (Symbol.OK, False)
    assert len(controller.session.plan()) == 4, "v3 takes one image per request"
    sent = controller.session.sent_of(big_row.row())
    assert sent is not None
    assert (sent.width, sent.height, sent.unchanged) == (2000, 1500, True)


def test_a_settings_change_prepares_only_what_the_new_settings_transform(
    qtbot: QtBot, controller: SessionController, tmp_path: Path
) -> None:
    big = big_jpeg(tmp_path / "big.jpg")
    rotated = imagegen.jpeg_with_orientation(tmp_path / "rotated.jpg", 200, 100, 6)
    controller.set_settings(V3)
    read(controller, [big, rotated])
    messages: list[str] = []
    recorder = _MessageRecorder(messages)
    controller.status_message.connect(recorder.on_message)

    # Rapid changes: the v4 work started by the first change is cancelled by the second.
    controller.set_settings(Settings())
    controller.set_settings(V3)
    controller.set_settings(Settings(output_dimension=256))
    assert controller.wait_idle(15_000)

    session = controller.session
    sent = [session.sent_of(n) for n in range(2)]
    assert sent[0] is not None
    assert sent[0].width * sent[0].height <= MAX_PIXELS, "prepared under the last settings"
    assert sent[1] is not None
    assert (sent[1].width, sent[1].height) == (100, 200), "turned upright once"
    assert [controller.progress(n) for n in range(2)] == [Progress.READY] * 2

    messages.clear()
    controller.set_settings(V3)  # v3 sends both files as they are: nothing to prepare
    assert controller.wait_idle(5000)
    assert not any(m.startswith("Preparing") for m in messages), messages


def test_a_duplicate_of_a_shrunk_image_is_ready_once_its_first_copy_is(
    controller: SessionController, tmp_path: Path
) -> None:
    big = big_jpeg(tmp_path / "big.jpg")
    copy = tmp_path / "copy.jpg"
    shutil.copy(big, copy)
    read(controller, [big, copy])

    assert [f.code for f in controller.session.items[1].findings] == ["downsampled", "duplicate"]
    assert controller.progress(1) is Progress.READY
    assert controller.session.sent_of(1) == controller.session.sent_of(0)


def test_run_results_mark_items_embedded_or_failed(
    qtbot: QtBot, controller: SessionController, model: ItemListModel, tmp_path: Path
) -> None:
    paths = imagegen.photo_folder(tmp_path / "in", 3, 80, 60)
    read(controller, paths)
    sha = [s.sha256 for s in (controller.session.sent_of(n) for n in range(3)) if s is not None]

    with qtbot.waitSignal(controller.items_changed) as changed:
        controller.mark_embedded([sha[0]])
    assert changed.args == [[0]]
    controller.mark_failed(sha[1], "The server could not read the image.")

    assert model.index(0).data(BadgeRole).symbol is Symbol.EMBEDDED
    assert model.index(1).data(BadgeRole).symbol is Symbol.FAILED
    assert "The server could not read the image." in model.index(1).data(
        Qt.ItemDataRole.ToolTipRole
    )
    assert model.index(2).data(BadgeRole).symbol is Symbol.OK

    controller.refresh_embedded({sha[2]})
    assert [controller.progress(n) for n in range(3)] == [
        Progress.READY,
        Progress.FAILED,
        Progress.EMBEDDED,
    ]


# -- thumbnails ------------------------------------------------------------------------------


def test_thumbnails_arrive_for_images_and_bad_files_get_no_preview(
    qtbot: QtBot, controller: SessionController, model: ItemListModel, tmp_path: Path
) -> None:
    files = awkward_folder(tmp_path / "in")
    controller.add_paths([str(tmp_path / "in")])
    qtbot.waitUntil(lambda: model.rowCount() == len(files), timeout=5000)
    # Asking for the picture (as a view painting a row does) is what requests a thumbnail.
    for row in range(model.rowCount()):
        assert model.index(row).data(Qt.ItemDataRole.DecorationRole) is not None
    assert controller.wait_idle(15_000, thumbnails=True)

    def picture(name: str) -> QPixmap:
        value = row_of(model, files[name]).data(Qt.ItemDataRole.DecorationRole)
        assert isinstance(value, QPixmap)
        return value

    for name in ("photo", "sixteen", "cmyk", "rotated", "animated"):
        assert model.has_thumbnail(str(files[name])), name
        assert picture(name).cacheKey() != model.placeholder.cacheKey()
        assert max(picture(name).width(), picture(name).height()) <= 160
    assert (picture("rotated").width(), picture("rotated").height()) == (80, 160), "upright"
    for name in ("truncated", "broken_data", "corrupt_png", "not_image"):
        assert picture(name).cacheKey() == model.no_preview.cacheKey(), name


def test_thumbnail_requests_are_deduplicated(
    qtbot: QtBot, controller: SessionController, tmp_path: Path
) -> None:
    path = imagegen.save(imagegen.photo(300, 200), tmp_path / "one.jpg", "JPEG")
    read(controller, [path])
    answers: list[str] = []
    recorder = _ThumbnailRecorder(answers)
    controller.thumbnail_ready.connect(recorder.on_ready)

    for _ in range(5):
        controller.request_thumbnail(str(path))
    controller.request_thumbnail(str(tmp_path / "not-in-the-session.jpg"))
    assert controller.wait_idle(5000, thumbnails=True)

    assert answers == [str(path)]


# -- the item model and its filter ------------------------------------------------------------


def test_the_item_model_and_filter_pass_qts_model_tester_through_changes(
    qtbot: QtBot, qtmodeltester, controller: SessionController, tmp_path: Path
) -> None:
    model = ItemListModel(controller)
    proxy = StatusFilterModel()
    proxy.setSourceModel(model)
    qtmodeltester.check(model)
    qtmodeltester.check(proxy)
    files = awkward_folder(tmp_path / "in")

    proxy.set_sort(SortOrder.STATUS)
    read(controller, list(files.values()))
    controller.set_settings(V3)
    proxy.set_filter(StatusFilter.ERRORS)
    controller.remove([0])
    proxy.set_filter(StatusFilter.ALL)
    controller.clear()
    read(controller, [files["photo"]])

    assert model.rowCount() == 1
    assert proxy.rowCount() == 1


def test_the_filter_shows_one_status_and_sorts_problems_first(
    controller: SessionController, model: ItemListModel, tmp_path: Path
) -> None:
    files = awkward_folder(tmp_path / "in")
    read(controller, list(files.values()))
    proxy = StatusFilterModel()
    proxy.setSourceModel(model)

    def shown() -> list[str]:
        return [Path(proxy.index(r, 0).data(PathRole)).name for r in range(proxy.rowCount())]

    proxy.set_filter(StatusFilter.ERRORS)
    assert sorted(shown()) == ["notes.png", "truncated.jpg"]
    proxy.set_filter(StatusFilter.WARNINGS)
    assert shown() == ["animated.gif"]
    proxy.set_filter(StatusFilter.OK)
    assert len(shown()) == len(files) - 3

    controller.mark_embedded([controller.session.sent_of(0).sha256])  # type: ignore[union-attr]
    proxy.set_filter(StatusFilter.NOT_EMBEDDED)
    assert len(shown()) == len(files) - 1

    proxy.set_filter(StatusFilter.ALL)
    proxy.set_sort(SortOrder.STATUS)
    assert sorted(shown()[:2]) == ["notes.png", "truncated.jpg"]
    assert shown()[2] == "animated.gif"
    proxy.set_sort(SortOrder.NAME)
    assert shown() == sorted(shown(), key=str.casefold)
    proxy.set_sort(SortOrder.ADDED)
    assert shown() == [Path(item.path).name for item in controller.session.items]


# -- the workers, called directly -------------------------------------------------------------


def test_reading_reports_the_file_list_first_then_probes_in_chunks(tmp_path: Path) -> None:
    paths = imagegen.distinct_jpegs(tmp_path / "many", 23)
    (tmp_path / "many" / ".hidden.jpg").write_bytes(paths[0].read_bytes())
    reports: list[object] = []
    work = reading_work([str(tmp_path / "many")], batch=7, chunk_probes=5, chunk_seconds=60)

    done = work(reports.append, threading.Event())

    assert done == 23
    first = reports[0]
    assert isinstance(first, Collected)
    assert first.batch == 7
    assert first.files == [str(p) for p in paths]
    assert [Path(s.path).name for s in first.skipped] == [".hidden.jpg"]
    chunks = reports[1:]
    assert all(isinstance(c, ProbeChunk) and c.batch == 7 for c in chunks)
    assert [len(c.probes) for c in chunks] == [5, 5, 5, 5, 3]  # type: ignore[attr-defined]
    probed = [path for c in chunks for path, _probe in c.probes]  # type: ignore[attr-defined]
    assert probed == first.files


def test_reading_stops_between_files_when_cancelled(tmp_path: Path) -> None:
    imagegen.distinct_jpegs(tmp_path / "many", 40)
    cancel = threading.Event()
    reports: list[object] = []

    def report(value: object) -> None:
        reports.append(value)
        if isinstance(value, ProbeChunk):
            cancel.set()

    done = reading_work([str(tmp_path / "many")], 0, chunk_probes=5, chunk_seconds=60)(
        report, cancel
    )

    assert done == 5
    assert len(reports) == 2


def test_preparing_reports_a_summary_or_an_error_finding(tmp_path: Path) -> None:
    big = big_jpeg(tmp_path / "big.jpg")
    changed = imagegen.save(imagegen.photo(100, 80), tmp_path / "changed.jpg", "JPEG")
    probes: list[Probe] = [probe_file(big), probe_file(changed)]
    imagegen.save(imagegen.photo(100, 80, seed=9), changed, "JPEG")  # changed after reading
    reports: list[object] = []

    preparing_work([(p.path, p) for p in probes], Settings())(reports.append, threading.Event())

    first, second = reports
    assert isinstance(first, Prepared)
    assert isinstance(second, Prepared)
    assert first.key is True
    assert first.source_sha256 == probes[0].sha256
    assert isinstance(first.outcome, Sent)
    assert first.outcome.width * first.outcome.height <= MAX_PIXELS
    assert not hasattr(first.outcome, "data"), "the prepared bytes are not kept"
    assert isinstance(second.outcome, Finding)
    assert second.outcome.severity is Severity.ERROR
    assert "changed since it was read" in second.outcome.message


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_thumbnails_stand_upright(tmp_path: Path, fmt: str, orientation: int) -> None:
    path = imagegen.oriented_corners(tmp_path / f"o.{fmt.lower()}", orientation, fmt=fmt)

    image = load_thumbnail(ThumbnailJob.of(probe_file(path)))

    assert image is not None
    assert (image.width(), image.height()) == (160, 120)
    corners = [(3, 3), (156, 3), (3, 116), (156, 116)]
    for (x, y), want in zip(corners, imagegen.CORNER_COLOURS, strict=True):
        got = image.pixelColor(x, y)
        assert (
            abs(got.red() - want[0]) + abs(got.green() - want[1]) + abs(got.blue() - want[2]) < 60
        )


def test_thumbnails_of_awkward_files(tmp_path: Path) -> None:
    files = awkward_folder(tmp_path)
    wide = imagegen.png48(tmp_path / "wide.png", 300, 200)
    tiny = imagegen.save(imagegen.photo(40, 30), tmp_path / "tiny.png", "PNG")
    bomb = imagegen.png_declaring(tmp_path / "bomb.png", 20_000, 20_000)

    def thumb(path: Path) -> QImage | None:
        return load_thumbnail(ThumbnailJob.of(probe_file(path)))

    for path in (files["sixteen"], files["cmyk"], files["animated"], wide):
        image = thumb(path)
        assert image is not None, path.name
        assert not image.isNull()
    small = thumb(tiny)
    assert small is not None
    assert (small.width(), small.height()) == (40, 30), "never enlarged"
    for path in (files["broken_data"], files["corrupt_png"], files["not_image"], bomb):
        assert thumb(path) is None, path.name
    assert load_thumbnail(ThumbnailJob(str(tmp_path / "missing.png"), "png")) is None


class _AddedRecorder(QObject):
    """Records, at the moment items are added, what the model and session say."""

    def __init__(
        self, model: ItemListModel, controller: SessionController, seen: dict[str, object]
    ) -> None:
        super().__init__()
        self._model = model
        self._controller = controller
        self._seen = seen
        seen["changed_before_added"] = None
        controller.items_changed.connect(self.on_changed)

    @Slot(list)
    def on_added(self, _indices: list[int]) -> None:
        session = self._controller.session
        self._seen["rows"] = self._model.rowCount()
        self._seen["progress"] = {session.progress(n) for n in range(len(session.items))}

    @Slot(list)
    def on_changed(self, indices: list[int]) -> None:
        if "rows" not in self._seen and self._seen["changed_before_added"] is None:
            self._seen["changed_before_added"] = indices


class _MessageRecorder(QObject):
    def __init__(self, messages: list[str]) -> None:
        super().__init__()
        self._messages = messages

    @Slot(str)
    def on_message(self, text: str) -> None:
        self._messages.append(text)


class _ThumbnailRecorder(QObject):
    def __init__(self, answers: list[str]) -> None:
        super().__init__()
        self._answers = answers

    @Slot(str, QImage)
    def on_ready(self, path: str, _image: QImage) -> None:
        self._answers.append(path)
