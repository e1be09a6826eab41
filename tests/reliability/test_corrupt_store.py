"""A damaged store file is detected and set aside, never crashed on; a newer one is refused.

"Damaged" covers a file overwritten with garbage, one cut short, one whose pages past the first
were overwritten (found only by reading every page), and another program's SQLite database in
the store's place. Each is renamed ``store.sqlite3.damaged-<date>`` beside the original, with
its ``-wal`` and ``-shm`` files, byte for byte; a fresh store takes its place and the user is
told in plain words where the old file went. A store written by a newer Embed Studio is left
exactly as it is, with a message saying to update the app.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from desktop.app import store_notice
from desktop.core.models import Settings
from desktop.core.store import (
    SCHEMA_VERSION,
    STORE_FILE_NAME,
    EmbeddingRow,
    SetAside,
    Store,
    StoreCorruptError,
    StoreError,
    open_store,
)
from desktop.emulator import Emulator
from desktop.offline import OfflineService
from desktop.ui.app_settings import AppSettings
from desktop.ui.main_window import MainWindow
from tests.reliability.support import (
    a_few_photos,
    assert_plain,
    assert_vectors_are_the_emulators,
    child_env,
    integrity,
    run_embed,
    sha256_of,
)

ENDPOINT: Final = "http://127.0.0.1:9"
DIM: Final = 256


def filled_store(path: Path, count: int = 300) -> None:
    """A real store with *count* vectors, checkpointed so every page is in the main file."""
    rng = np.random.default_rng(4)
    with Store(path) as store:
        run = store.start_run("embed-v4.0", "search_document", DIM, ["float"], ENDPOINT)
        for start in range(0, count, 50):
            rows = [
                EmbeddingRow(
                    sha256=f"{n:064x}",
                    source_path=f"img{n}.png",
                    model="embed-v4.0",
                    input_type="search_document",
                    output_dimension=DIM,
                    endpoint=ENDPOINT,
                    embeddings={"float": rng.standard_normal(DIM).tolist()},
                )
                for n in range(start, start + 50)
            ]
            store.save_batch(run, rows)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def garbage(path: Path) -> None:
    path.write_bytes(np.random.default_rng(1).bytes(48 * 1024))


def cut_short(path: Path) -> None:
    filled_store(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def cut_inside_the_header(path: Path) -> None:
    filled_store(path)
    path.write_bytes(path.read_bytes()[:60])


def damaged_pages(path: Path) -> None:
    """Every page but the first overwritten: opening works, reading the vectors would not."""
    filled_store(path)
    data = bytearray(path.read_bytes())
    data[4096:] = np.random.default_rng(2).bytes(len(data) - 4096)
    path.write_bytes(bytes(data))


def foreign(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('not ours')")
        conn.commit()


def with_a_stray_log(path: Path) -> None:
    """Garbage beside a write-ahead log and shared-memory file: all three move together."""
    garbage(path)
    Path(f"{path}-wal").write_bytes(b"old log " * 100)
    Path(f"{path}-shm").write_bytes(b"\0" * 32768)


DAMAGE: Final[dict[str, Callable[[Path], None]]] = {
    "garbage": garbage,
    "cut-short": cut_short,
    "cut-inside-the-header": cut_inside_the_header,
    "damaged-pages": damaged_pages,
    "another-programs-database": foreign,
    "with-its-log": with_a_stray_log,
}


def snapshot(path: Path) -> dict[str, bytes]:
    """The store's file and its companions, by suffix."""
    return {
        suffix: Path(f"{path}{suffix}").read_bytes()
        for suffix in ("", "-wal", "-shm")
        if Path(f"{path}{suffix}").exists()
    }


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_store_is_set_aside_and_a_fresh_one_started(tmp_path: Path, damage: str) -> None:
    path = tmp_path / STORE_FILE_NAME
    DAMAGE[damage](path)
    before = snapshot(path)

    store, moved = open_store(path)
    with store:
        assert isinstance(moved, SetAside)
        run = store.start_run("embed-v4.0", "search_document", DIM, ["float"], ENDPOINT)
        assert store.runs()[0].id == run, "the fresh store works"

    assert moved.original == path
    assert moved.moved_to.parent == tmp_path
    assert moved.moved_to.name.startswith(f"{STORE_FILE_NAME}.damaged-")
    after = snapshot(moved.moved_to)
    assert after[""] == before[""], "the old file moved unchanged"
    # Its log moved with it, unchanged; examining the file read-only may leave an empty one.
    assert after.get("-wal", b"") == before.get("-wal", b"")
    # The shared-memory file is only an index of the log, which SQLite rebuilds from it.
    assert ("-shm" in after) >= ("-shm" in before)
    assert integrity(path) == "ok"
    message = moved.message
    assert "The store was damaged and has been set aside" in message
    assert str(moved.moved_to) in message
    assert "Traceback" not in message
    assert "Error" not in message


def test_a_sound_store_is_kept_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE_NAME
    filled_store(path)

    store, moved = open_store(path)
    with store:
        assert moved is None
        assert store.runs()[0].images == 300
    assert sorted(p.name for p in tmp_path.iterdir() if "damaged" in p.name) == []


def test_setting_aside_twice_in_one_second_keeps_both_files(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE_NAME
    garbage(path)
    first_store, first = open_store(path)
    first_store.close()
    path.write_bytes(b"second damaged file" * 100)
    second_store, second = open_store(path)
    second_store.close()

    assert first is not None
    assert second is not None
    assert first.moved_to != second.moved_to
    assert second.moved_to.read_bytes() == b"second damaged file" * 100
    assert first.moved_to.read_bytes() == np.random.default_rng(1).bytes(48 * 1024)


def test_a_store_from_a_newer_app_is_refused_not_set_aside(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE_NAME
    filled_store(path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = snapshot(path)

    with pytest.raises(StoreError, match="newer Embed Studio") as raised:
        open_store(path)

    assert not isinstance(raised.value, StoreCorruptError)
    assert snapshot(path) == before
    assert [p.name for p in tmp_path.iterdir() if "damaged" in p.name] == []


def test_damage_found_mid_use_says_the_next_start_sets_it_aside(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE_NAME
    damaged_pages(path)

    with Store(path) as store, pytest.raises(StoreCorruptError) as raised:
        store.verify()
    assert "moves a damaged store aside the next time it starts" in str(raised.value)


# -- the command line --------------------------------------------------------------------------


def test_the_command_line_sets_a_damaged_store_aside_and_says_where(
    tmp_path: Path, emulator: Emulator
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    garbage(data / STORE_FILE_NAME)
    images = a_few_photos(tmp_path / "in", 3)

    run = run_embed(
        child_env(data),
        tmp_path / "in",
        "--out",
        tmp_path / "v.csv",
        "--base-url",
        emulator.base_url,
    )

    assert run.status == 0, run.err
    assert_plain(run)
    (moved,) = [p for p in data.iterdir() if ".damaged-" in p.name]
    assert "The store was damaged and has been set aside" in run.err
    assert str(moved) in run.err
    assert moved.read_bytes() == np.random.default_rng(1).bytes(48 * 1024)
    with Store(data / STORE_FILE_NAME) as store:
        sent = {sha256_of(p): p.read_bytes() for p in images}
        assert_vectors_are_the_emulators(store, sent, Settings(), emulator.base_url)


def test_the_command_line_refuses_a_newer_store_plainly(tmp_path: Path, emulator: Emulator) -> None:
    data = tmp_path / "data"
    data.mkdir()
    filled_store(data / STORE_FILE_NAME)
    with contextlib.closing(sqlite3.connect(data / STORE_FILE_NAME)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = snapshot(data / STORE_FILE_NAME)
    a_few_photos(tmp_path / "in", 2)

    run = run_embed(
        child_env(data),
        tmp_path / "in",
        "--out",
        tmp_path / "v.csv",
        "--base-url",
        emulator.base_url,
    )

    assert run.status == 1
    assert_plain(run)
    assert "newer Embed Studio" in run.err
    assert "Update the app" in run.err
    assert snapshot(data / STORE_FILE_NAME) == before
    assert not (tmp_path / "v.csv").exists()
    assert emulator.requests == [], "nothing was sent"


# -- the window --------------------------------------------------------------------------------


def test_the_window_tells_where_a_damaged_store_went(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE_NAME
    damaged_pages(path)

    notice = store_notice(path)
    assert notice is not None
    window = make_window(qtbot, tmp_path, path)
    try:
        window.show_store_notice(notice)
        box = window.store_notice
        assert isinstance(box, QMessageBox)
        qtbot.waitUntil(box.isVisible)
        (moved,) = [p for p in tmp_path.glob("*.damaged-*") if not p.name.endswith(("wal", "shm"))]
        assert "The store was damaged and has been set aside" in box.text()
        assert str(moved) in box.text()
        assert window.statusBar().currentMessage() == notice
        assert window.isEnabled(), "the notice does not stop the window"
        box.accept()
    finally:
        window.shutdown()
    assert integrity(path) == "ok"
    assert store_notice(path) is None, "the fresh store is sound at the next start"


def test_the_window_is_told_why_a_newer_store_cannot_be_used(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE_NAME
    Store(path).close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    notice = store_notice(path)

    assert notice is not None
    assert "newer Embed Studio" in notice
    assert [p.name for p in tmp_path.iterdir() if "damaged" in p.name] == []


# --------------------------------------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def make_window(qtbot: QtBot, tmp_path: Path, store_path: Path) -> MainWindow:
    ini = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    offline = OfflineService(preferred_port=0, latency_ms=0.0, per_image_ms=0.0)
    window = MainWindow(AppSettings(ini), store_path, offline)
    qtbot.addWidget(window)
    window.show()
    return window
