"""The key dialog against the real system keyring (gnome-keyring's Secret Service on D-Bus).

These tests run only where a Secret Service is reachable and unlocked; CI starts one on a
private D-Bus. To run them by hand on Linux::

    tmp=$(mktemp -d); mkdir -m 700 "$tmp/run"
    XDG_DATA_HOME="$tmp/data" XDG_RUNTIME_DIR="$tmp/run" dbus-run-session -- sh -c '
      echo -n pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null
      .venv/bin/pytest -m secretservice tests/ui/test_keyring_secret_service.py'

Any key the keyring held before under the app's entry is put back afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.chainer
import keyring.backends.fail
import pytest

from desktop.core.keys import KEYRING_SERVICE, KEYRING_USER, KeySource
from desktop.ui.key_dialog import KeyDialog
from desktop.ui.keys_state import KeyHolder
from tests.conftest import TEST_KEY
from tests.secrets_check import files_containing, shown_texts

pytestmark = pytest.mark.secretservice

OTHER_KEY = "es-other-key-0000aaaa9999"


def _no_real_keyring() -> bool:
    backend = keyring.get_keyring()
    if isinstance(backend, keyring.backends.fail.Keyring):
        return True
    return isinstance(backend, keyring.backends.chainer.ChainerBackend) and not backend.backends


@pytest.fixture
def real_keyring(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The system keyring, with the app's entry as it was before put back afterwards."""
    if _no_real_keyring():
        pytest.skip("no Secret Service here (CI runs one on a private D-Bus)")
    caplog.set_level(logging.DEBUG)
    before = keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
    yield
    if before is None:
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            keyring.delete_password(KEYRING_SERVICE, KEYRING_USER)
    else:
        keyring.set_password(KEYRING_SERVICE, KEYRING_USER, before)
    assert TEST_KEY not in caplog.text


def open_dialog(qtbot, holder: KeyHolder) -> KeyDialog:
    dialog = KeyDialog(holder)
    qtbot.addWidget(dialog, before_close_func=KeyDialog.shutdown)
    return dialog


def test_a_saved_key_is_in_the_system_keyring_and_shown_by_its_last_four(
    qtbot, real_keyring: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = KeyHolder()
    dialog = open_dialog(qtbot, holder)
    assert holder.status.keyring_available
    dialog.key_edit.setText(OTHER_KEY)
    dialog.save_key()
    dialog.key_edit.setText(TEST_KEY)
    assert dialog.save_button.text() == "Replace saved key"
    dialog.save_key()

    assert keyring.get_password(KEYRING_SERVICE, KEYRING_USER) == TEST_KEY
    again = KeyHolder()
    key = again.api_key()
    assert key is not None
    assert (key.secret, key.source) == (TEST_KEY, KeySource.KEYRING)
    assert again.status.last4 == "…7e2b"
    for text in shown_texts(dialog):
        assert TEST_KEY[-5:] not in text

    monkeypatch.setattr(dialog, "confirm_forget", lambda: True)
    dialog.forget_key()
    assert keyring.get_password(KEYRING_SERVICE, KEYRING_USER) is None
    assert KeyHolder().api_key() is None


def test_the_keyring_keeps_no_readable_copy_of_the_key(qtbot, real_keyring: None) -> None:
    holder = KeyHolder()
    holder.save(TEST_KEY)
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    keyrings = data_home / "keyrings"
    if keyrings.is_dir():
        assert files_containing(keyrings, TEST_KEY) == []
    holder.forget()
    assert keyring.get_password(KEYRING_SERVICE, KEYRING_USER) is None
