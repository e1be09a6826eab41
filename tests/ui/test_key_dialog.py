"""The API key dialog: save, replace, forget, session-only, the environment, the key check."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from PySide6.QtWidgets import QApplication, QWidget

from desktop.core.keys import KEYRING_SERVICE, KEYRING_USER, KeySource
from desktop.emulator import Emulator
from desktop.ui.key_dialog import KeyDialog
from desktop.ui.keys_state import KeyHolder
from desktop.workers.key_check import KeyCheckResult
from tests.conftest import TEST_KEY
from tests.secrets_check import MemoryKeyring, keyring_backend, shown_texts

ENTRY = (KEYRING_SERVICE, KEYRING_USER)
OTHER_KEY = "es-other-key-0000aaaa9999"


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    backend = MemoryKeyring()
    with keyring_backend(backend):
        yield backend


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def open_dialog(qtbot, holder: KeyHolder) -> KeyDialog:
    dialog = KeyDialog(holder)
    qtbot.addWidget(dialog, before_close_func=KeyDialog.shutdown)
    return dialog


def shown(widget: QWidget, dialog: KeyDialog) -> bool:
    """Whether *widget* shows when the (never shown) dialog does."""
    return widget.isVisibleTo(dialog)


def assert_key_not_shown(dialog: KeyDialog, secret: str = TEST_KEY) -> None:
    for text in shown_texts(dialog):
        assert secret not in text
        # The last four characters may be shown, never a fifth.
        assert secret[-5:] not in text


def check(qtbot, dialog: KeyDialog) -> KeyCheckResult:
    with qtbot.waitSignal(dialog.key_checked, timeout=15_000) as blocker:
        dialog.test_key()
    result = blocker.args[0]
    assert isinstance(result, KeyCheckResult)
    dialog.shutdown()
    return result


def test_saving_keeps_the_key_in_the_keyring_and_shows_only_its_last_four(
    qtbot, memory_keyring: MemoryKeyring
) -> None:
    holder = KeyHolder()
    dialog = open_dialog(qtbot, holder)
    assert "No API key yet" in dialog.status_label.text()
    assert dialog.save_button.text() == "Save"
    assert not dialog.forget_button.isEnabled()

    dialog.key_edit.setText(TEST_KEY)
    assert dialog.key_edit.displayText() != TEST_KEY
    dialog.save_key()

    assert memory_keyring.entries == {ENTRY: TEST_KEY}
    key = holder.api_key()
    assert key is not None
    assert (key.secret, key.source) == (TEST_KEY, KeySource.KEYRING)
    assert dialog.key_edit.text() == "", "the box is emptied once the key is saved"
    assert "…7e2b" in dialog.status_label.text()
    assert "system keyring" in dialog.status_label.text()
    assert dialog.save_button.text() == "Replace saved key"
    assert dialog.forget_button.isEnabled()
    assert_key_not_shown(dialog)
    assert TEST_KEY not in repr(key)
    assert TEST_KEY not in str(key)


def test_a_saved_key_is_replaced_then_forgotten(
    qtbot, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory_keyring.entries[ENTRY] = OTHER_KEY
    holder = KeyHolder()
    dialog = open_dialog(qtbot, holder)
    assert "…9999" in dialog.status_label.text()
    assert dialog.save_button.text() == "Replace saved key"
    assert "…9999" in dialog.save_button.toolTip()

    dialog.key_edit.setText(TEST_KEY)
    dialog.save_key()
    assert memory_keyring.entries == {ENTRY: TEST_KEY}
    assert "…7e2b" in dialog.status_label.text()

    monkeypatch.setattr(dialog, "confirm_forget", lambda: False)
    dialog.forget_key()
    assert memory_keyring.entries == {ENTRY: TEST_KEY}, "a declined question changes nothing"

    monkeypatch.setattr(dialog, "confirm_forget", lambda: True)
    with qtbot.waitSignal(holder.changed):
        dialog.forget_key()
    assert memory_keyring.entries == {}
    assert holder.api_key() is None
    assert "No API key yet" in dialog.status_label.text()
    assert not dialog.forget_button.isEnabled()


def test_without_a_keyring_the_key_is_kept_for_the_session_only_and_never_written(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        folder = home / name.lower()
        folder.mkdir(parents=True)
        monkeypatch.setenv(name, str(folder))
    with keyring_backend(keyring.backends.fail.Keyring()):  # type: ignore[no-untyped-call]
        holder = KeyHolder()
        dialog = open_dialog(qtbot, holder)
        assert not holder.status.keyring_available
        assert shown(dialog.keyring_note, dialog)
        assert any("no usable system keyring" in t for t in shown_texts(dialog.keyring_note))
        assert shown(dialog.session_button, dialog)
        assert not dialog.save_button.isEnabled()

        dialog.key_edit.setText(TEST_KEY)
        dialog.save_key()  # even when called anyway, it says why in plain words
        assert "no usable system keyring" in dialog.result_label.text()
        dialog.keep_for_session()

        key = holder.api_key()
        assert key is not None
        assert (key.secret, key.source) == (TEST_KEY, KeySource.MEMORY)
        assert "this session only" in dialog.status_label.text()
        assert "…7e2b" in dialog.status_label.text()
        assert_key_not_shown(dialog)

        monkeypatch.setattr(dialog, "confirm_forget", lambda: True)
        dialog.forget_key()
        assert holder.api_key() is None
    written = [p for p in home.rglob("*") if p.is_file()]
    assert written == [], f"nothing may be written anywhere: {written}"


def test_the_environment_variable_wins_and_says_so(
    qtbot, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CO_API_KEY", TEST_KEY)
    holder = KeyHolder()
    dialog = open_dialog(qtbot, holder)
    assert holder.status.source is KeySource.ENVIRONMENT
    assert "from the CO_API_KEY environment variable" in dialog.status_label.text()
    assert "…7e2b" in dialog.status_label.text()
    assert shown(dialog.env_note, dialog)

    dialog.key_edit.setText(OTHER_KEY)
    dialog.save_key()
    assert memory_keyring.entries == {ENTRY: OTHER_KEY}, "saving is still possible"
    assert "CO_API_KEY environment variable still wins" in dialog.result_label.text()
    key = holder.api_key()
    assert key is not None
    assert key.secret == TEST_KEY
    assert_key_not_shown(dialog)


def test_the_key_check_says_a_key_works(
    qtbot, memory_keyring: MemoryKeyring, emulator: Emulator
) -> None:
    holder = KeyHolder(emulator.base_url)
    dialog = open_dialog(qtbot, holder)
    dialog.key_edit.setText(TEST_KEY)

    result = check(qtbot, dialog)

    assert result.works
    assert result.emulated, "the emulator makes itself known"
    assert "This key works" in dialog.result_label.text()
    assert "not Cohere" in dialog.result_label.text()
    assert [r.path for r in emulator.requests] == ["/v1/check-api-key"]
    assert memory_keyring.entries == {}, "testing a key does not save it"
    assert_key_not_shown(dialog)


def test_the_key_check_uses_the_key_in_use_when_the_box_is_empty(
    qtbot, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.entries[ENTRY] = TEST_KEY
    with Emulator(keys={TEST_KEY}) as emu:
        dialog = open_dialog(qtbot, KeyHolder(emu.base_url))
        assert check(qtbot, dialog).works


def test_a_refused_key_gets_the_servers_words(qtbot, memory_keyring: MemoryKeyring) -> None:
    with Emulator(keys={"other"}) as emu:
        dialog = open_dialog(qtbot, KeyHolder(emu.base_url))
        dialog.key_edit.setText(TEST_KEY)
        result = check(qtbot, dialog)
    assert not result.works
    assert result.status == 401
    assert "refused" in result.message
    assert "invalid api token" in result.message, "the server's own words"
    assert dialog.result_label.text() == result.message
    assert_key_not_shown(dialog)


def test_an_unreachable_server_is_said_in_plain_words(qtbot, memory_keyring: MemoryKeyring) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dialog = open_dialog(qtbot, KeyHolder(f"http://127.0.0.1:{port}"))
    dialog.key_edit.setText(TEST_KEY)
    result = check(qtbot, dialog)
    assert not result.works
    assert result.status is None
    assert result.message.startswith(f"Could not reach http://127.0.0.1:{port}")


@pytest.mark.parametrize("typed", [f"{TEST_KEY[:8]} {TEST_KEY[8:]}", f"{TEST_KEY}é", "a\nb"])
def test_a_key_no_api_could_take_is_never_sent(
    qtbot, memory_keyring: MemoryKeyring, emulator: Emulator, typed: str
) -> None:
    holder = KeyHolder(emulator.base_url)
    dialog = open_dialog(qtbot, holder)
    dialog.key_edit.setText(typed)
    with qtbot.assertNotEmitted(dialog.key_checked):
        dialog.test_key()
    assert shown(dialog.result_label, dialog)
    assert "Copy it again" in dialog.result_label.text()
    dialog.save_key()
    assert memory_keyring.entries == {}
    assert emulator.requests == []
    assert TEST_KEY[:8] not in dialog.result_label.text()


def test_the_key_box_cannot_be_copied(qtbot, memory_keyring: MemoryKeyring) -> None:
    dialog = open_dialog(qtbot, KeyHolder())
    clipboard = QApplication.clipboard()
    clipboard.setText("before")
    dialog.key_edit.setText(TEST_KEY)
    dialog.key_edit.selectAll()
    dialog.key_edit.copy()
    dialog.key_edit.cut()
    assert clipboard.text() == "before"
    assert TEST_KEY not in dialog.key_edit.displayText()


def test_the_base_url_is_validated_and_its_fix_shown(qtbot, memory_keyring: MemoryKeyring) -> None:
    holder = KeyHolder()
    dialog = open_dialog(qtbot, holder)
    assert holder.base_url == ""
    assert not shown(dialog.advanced_panel, dialog), "Cohere's own URL needs no attention"
    dialog.advanced_button.setChecked(True)
    assert shown(dialog.advanced_panel, dialog)

    dialog.base_url_edit.setText("http://127.0.0.1:8123/v2/")
    with qtbot.waitSignal(holder.base_url_changed) as blocker:
        dialog.apply_base_url()
    assert blocker.args == ["http://127.0.0.1:8123"]
    assert holder.endpoint.url == "http://127.0.0.1:8123"
    assert "Removed '/v2'" in dialog.base_url_note.text()
    assert dialog.base_url_edit.text() == "http://127.0.0.1:8123"

    dialog.base_url_edit.setText("ftp://example.com")
    with qtbot.assertNotEmitted(holder.base_url_changed):
        dialog.apply_base_url()
    assert "must start with https://" in dialog.base_url_note.text()
    assert holder.endpoint.url == "http://127.0.0.1:8123", "a bad URL changes nothing"

    with qtbot.waitSignal(holder.base_url_changed) as blocker:
        dialog.use_cohere_url()
    assert blocker.args == [""]
    assert holder.endpoint.url == "https://api.cohere.com"

    reopened = open_dialog(qtbot, KeyHolder("http://127.0.0.1:8123"))
    assert shown(reopened.advanced_panel, reopened), "a non-default URL is shown at once"


def test_a_remembered_url_that_no_longer_parses_falls_back_to_cohere(
    memory_keyring: MemoryKeyring,
) -> None:
    assert KeyHolder("not a url").endpoint.url == "https://api.cohere.com"
