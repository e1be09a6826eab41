"""The whole window as a user drives it: add, judge, switch model, run, cancel, export, close."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from desktop.core.session import Progress
from desktop.emulator import Emulator
from desktop.offline import OfflineService
from desktop.ui.app_settings import AppSettings
from desktop.ui.export_dialog import ExportDialog
from desktop.ui.main_window import MainWindow
from tests.conftest import TEST_KEY
from tests.imagegen import photo, photo_folder, save

WAIT_MS = 60_000


def make_window(qtbot: QtBot, tmp_path: Path, latency_ms: float = 0.0) -> MainWindow:
    ini = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    offline = OfflineService(preferred_port=0, latency_ms=latency_ms, per_image_ms=0.0)
    window = MainWindow(AppSettings(ini), tmp_path / "store.sqlite3", offline)
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    w = make_window(qtbot, tmp_path)
    yield w
    w.shutdown()


def images(tmp_path: Path, count: int = 5) -> Path:
    folder = tmp_path / "photos"
    photo_folder(folder, count, 80, 60)
    save(photo(2000, 1500), folder / "large.jpg", "JPEG", quality=85)
    return folder


def settle(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(window.is_settled, timeout=WAIT_MS)


def choose_model(window: MainWindow, model: str) -> None:
    box = window.settings_panel.model
    box.setCurrentIndex(box.findData(model))


def progress_of(window: MainWindow) -> list[Progress]:
    session = window.controller.session
    return [session.progress(n) for n in range(len(session.items))]


def test_a_folder_is_judged_and_the_plan_follows_the_model(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    window.add_paths([str(images(tmp_path))])
    settle(qtbot, window)
    session = window.controller.session
    large = session.index_of(str(tmp_path / "photos" / "large.jpg"))
    assert large is not None
    assert [f.code for f in session.items[large].findings] == ["downsampled"]
    assert len(window.plan_panel.requests) == 1

    choose_model(window, "embed-english-v3.0")
    settle(qtbot, window)

    assert session.settings.model == "embed-english-v3.0"
    assert session.items[large].findings == [], "v3 does not shrink large images"
    assert len(window.plan_panel.requests) == 6, "one image per request"
    assert window.settings_panel.settings.effective_input_type == "image"


def test_run_offline_then_export(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    window.add_paths([str(images(tmp_path))])
    settle(qtbot, window)
    window.offline_box.setChecked(True)

    with qtbot.waitSignal(window.run_panel.run_finished, timeout=WAIT_MS):
        window.run_panel.run_button.click()

    qtbot.waitUntil(lambda: set(progress_of(window)) == {Progress.EMBEDDED}, timeout=WAIT_MS)
    result = window.run_panel.last_result
    assert result is not None
    assert result.outcome == "completed"
    assert result.emulated
    dialog = ExportDialog(window.export_source(), parent=window)
    qtbot.addWidget(dialog)
    target = tmp_path / "out" / "vectors.csv"
    target.parent.mkdir()
    dialog.set_target(target)
    with qtbot.waitSignal(dialog.exported, timeout=WAIT_MS):
        dialog.export_now()
    dialog.shutdown()
    with target.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6
    assert {row["emulated"] for row in rows} == {"true"}
    assert {Path(row["path"]).name for row in rows} >= {"large.jpg"}


def test_images_already_embedded_show_as_done_when_they_come_back(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    folder = images(tmp_path, 3)
    window.add_paths([str(folder)])
    settle(qtbot, window)
    window.offline_box.setChecked(True)
    with qtbot.waitSignal(window.run_panel.run_finished, timeout=WAIT_MS):
        window.run_panel.run_button.click()

    window.clear()
    window.add_paths([str(folder)])
    settle(qtbot, window)

    qtbot.waitUntil(lambda: set(progress_of(window)) == {Progress.EMBEDDED}, timeout=WAIT_MS)
    emulator = window.offline.emulator
    assert emulator is not None
    assert emulator.billed_images == 4, "nothing was sent twice"


def test_cancel_keeps_what_arrived_and_a_second_run_finishes(qtbot: QtBot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path, latency_ms=250)
    try:
        photo_folder(tmp_path / "many", 16, 80, 60)
        choose_model(window, "embed-english-v3.0")
        window.add_paths([str(tmp_path / "many")])
        settle(qtbot, window)
        window.offline_box.setChecked(True)
        window.run_panel.run_button.click()
        qtbot.waitUntil(lambda: Progress.EMBEDDED in progress_of(window), timeout=WAIT_MS)
        with qtbot.waitSignal(window.run_panel.run_finished, timeout=WAIT_MS):
            window.run_panel.cancel_button.click()

        result = window.run_panel.last_result
        assert result is not None
        assert result.outcome == "cancelled"
        kept = progress_of(window).count(Progress.EMBEDDED)
        assert 1 <= kept < 16
        with qtbot.waitSignal(window.run_panel.run_finished, timeout=WAIT_MS):
            window.run_panel.run_button.click()
        qtbot.waitUntil(lambda: set(progress_of(window)) == {Progress.EMBEDDED}, timeout=WAIT_MS)
        emulator = window.offline.emulator
        assert emulator is not None
        assert emulator.billed_images == 16
    finally:
        window.shutdown()


def test_closing_during_a_run_asks_cancels_and_leaves_no_thread(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = make_window(qtbot, tmp_path, latency_ms=300)
    photo_folder(tmp_path / "many", 6, 80, 60)
    choose_model(window, "embed-english-v3.0")
    window.add_paths([str(tmp_path / "many")])
    settle(qtbot, window)
    window.offline_box.setChecked(True)
    window.run_panel.run_button.click()
    qtbot.waitUntil(lambda: window.run_panel.running, timeout=WAIT_MS)
    asked: list[str] = []

    def answer(*args: object, **_kwargs: object) -> QMessageBox.StandardButton:
        asked.append(str(args[1]))
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)

    assert window.close()

    assert asked == ["A run is in progress"]
    assert not window.run_panel.running or not window.run_panel._pool.busy
    assert not window.offline.running


def test_a_refused_key_shows_the_key_problem(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    photo_folder(tmp_path / "few", 2, 80, 60)
    window.add_paths([str(tmp_path / "few")])
    settle(qtbot, window)
    with Emulator(keys={"the-only-good-key"}) as emulator:
        window.keys.set_base_url(emulator.base_url)
        window.keys.keep_for_session(TEST_KEY)
        with qtbot.waitSignal(window.run_panel.run_finished, timeout=WAIT_MS):
            window.run_panel.run_button.click()

    result = window.run_panel.last_result
    assert result is not None
    assert result.outcome == "stopped"
    assert "API key was refused" in result.message
    assert window.run_panel.key_problem.isVisibleTo(window)
    assert TEST_KEY not in window.run_panel.key_problem_label.text()
