"""The window's key paths: the key dialog, copying requests, and a run whose process crashes.

Driven through pytest-qt on the offscreen platform with a private HOME, every logger at DEBUG
and an in-memory keyring backend (a real backend of the keyring library): after saving,
testing (accepted, refused, quoted back by the server) and forgetting the key, nothing the
dialog shows, no log record and no file under HOME holds it; the clipboard gets ``$CO_API_KEY``,
never the key; and a run's child process interrupted mid-run leaves a scrubbed log.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QGuiApplication

from desktop.core.assess import assess
from desktop.core.endpoint import parse_endpoint
from desktop.core.keys import KEYRING_SERVICE, KEYRING_USER, mask
from desktop.core.models import Settings
from desktop.core.runner import RunConfig, RunResult
from desktop.emulator import Emulator
from desktop.ui.controller import SessionController
from desktop.ui.inspector import CopyKind, RequestInspector
from desktop.ui.key_dialog import KeyDialog
from desktop.ui.keys_state import KeyHolder
from desktop.workers.key_check import KeyCheckResult
from desktop.workers.running import RunJob, start_run
from desktop.workers.tasks import TaskPool
from tests.conftest import TEST_KEY
from tests.imagegen import photo_folder
from tests.secrets_check import MemoryKeyring, keyring_backend, shown_texts
from tests.security.conftest import EchoServer, Home, assert_no_leak
from tests.ui.feeding import add


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    backend = MemoryKeyring()
    with keyring_backend(backend):
        yield backend


def assert_dialog_clean(dialog: KeyDialog) -> None:
    for text in shown_texts(dialog):
        assert_no_leak(text, "a text of the key dialog")


def checked_with(qtbot, dialog: KeyDialog, base_url: str) -> KeyCheckResult:
    dialog.base_url_edit.setText(base_url)
    dialog.apply_base_url()
    with qtbot.waitSignal(dialog.key_checked, timeout=15_000) as blocker:
        dialog.test_key()
    result = blocker.args[0]
    assert isinstance(result, KeyCheckResult)
    assert_no_leak(repr(result), "the key check's result")
    assert_dialog_clean(dialog)
    return result


def test_set_test_and_forget_in_the_key_dialog_leave_the_key_nowhere(
    qtbot,
    home: Home,
    debug_logs: pytest.LogCaptureFixture,
    memory_keyring: MemoryKeyring,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    holder = KeyHolder()
    dialog = KeyDialog(holder)
    qtbot.addWidget(dialog, before_close_func=KeyDialog.shutdown)

    dialog.key_edit.setText(TEST_KEY)
    dialog.save_key()
    assert memory_keyring.entries == {(KEYRING_SERVICE, KEYRING_USER): TEST_KEY}
    assert_dialog_clean(dialog)

    assert checked_with(qtbot, dialog, emulator.base_url).works
    emulator.set_keys({"another-key"})
    assert checked_with(qtbot, dialog, emulator.base_url).status == 401

    echo = EchoServer(200, check_status=401)
    try:
        refused = checked_with(qtbot, dialog, echo.base_url)
    finally:
        echo.close()
    assert refused.status == 401
    assert mask(TEST_KEY) in refused.message, "the server's words, the key in them masked"

    monkeypatch.setattr(dialog, "confirm_forget", lambda: True)
    dialog.forget_key()
    assert memory_keyring.entries == {}
    assert_dialog_clean(dialog)
    dialog.shutdown()

    assert any(r.name.startswith("httpcore") for r in debug_logs.records)
    home.assert_key_written_nowhere()


def test_copied_requests_name_the_variable_never_the_key(
    qtbot,
    home: Home,
    debug_logs: pytest.LogCaptureFixture,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # The key everywhere a careless snippet could find it: the environment and the keyring.
    monkeypatch.setenv("CO_API_KEY", TEST_KEY)
    memory_keyring.entries[(KEYRING_SERVICE, KEYRING_USER)] = TEST_KEY
    controller = SessionController(Settings(output_dimension=256))
    add(controller, photo_folder(tmp_path / "in", 2, 48, 40))
    inspector = RequestInspector(controller)
    qtbot.addWidget(inspector)
    try:
        inspector.inspect(0, "https://api.cohere.com")
        qtbot.waitUntil(lambda: inspector.built is not None, timeout=10_000)
        clipboard = QGuiApplication.clipboard()
        for kind, button in inspector.copy_buttons.items():
            button.click()
            text = clipboard.text()
            assert text == inspector.text_for(kind) != ""
            assert_no_leak(text, f"the copied {kind.value}")
        assert "$CO_API_KEY" in inspector.text_for(CopyKind.CURL)
        assert 'os.environ["CO_API_KEY"]' in inspector.text_for(CopyKind.PYTHON)
        for text in shown_texts(inspector):
            assert_no_leak(text, "a text of the inspector")
    finally:
        inspector.shutdown()
        controller.shutdown()
    home.assert_key_written_nowhere()


class Recorder(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[object] = []
        self.idle = False

    @Slot(object)
    def on_event(self, event: object) -> None:
        self.events.append(event)

    @Slot()
    def on_idle(self) -> None:
        self.idle = True


def run_children() -> list[int]:
    """The run child processes of this process (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"desktop.workers.run_child" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the child through /proc")
def test_a_run_process_interrupted_mid_run_logs_no_key(
    qtbot, home: Home, debug_logs: pytest.LogCaptureFixture, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.faults.update(latency_ms=1500)
    settings = Settings()
    items = tuple(assess(photo_folder(tmp_path / "in", 3, 48, 40), settings).run_items())
    config = RunConfig(settings, TEST_KEY, parse_endpoint(emulator.base_url), timeout=10)
    job = RunJob(config, items, home.data / "store.sqlite3")
    home.data.mkdir(parents=True)
    pool = TaskPool(1, "security-runs")
    recorder = Recorder()
    pool.idle.connect(recorder.on_idle)
    start_run(pool, job, recorder.on_event)
    qtbot.waitUntil(lambda: any(r.path == "/v2/embed" for r in emulator.requests), timeout=15_000)
    children = run_children()
    assert len(children) == 1
    # Ctrl+C in the child: it dies with a traceback on its stderr, and no result line.
    os.kill(children[0], signal.SIGINT)
    qtbot.waitUntil(lambda: recorder.idle, timeout=30_000)
    assert pool.shutdown(5_000)

    result = recorder.events[-1]
    assert isinstance(result, RunResult)
    assert result.outcome == "stopped"
    assert "stopped unexpectedly" in result.message
    failed = [r for r in debug_logs.records if "the run's process failed" in r.getMessage()]
    assert failed, "the child's stderr is logged"
    assert "KeyboardInterrupt" in failed[0].getMessage()
    for event in recorder.events:
        assert_no_leak(repr(event), f"the event {type(event).__name__}")
    home.assert_key_written_nowhere(tmp_path)
