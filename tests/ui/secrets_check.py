"""Helpers for the key tests: an in-memory keyring, and scans for a key where it must not be."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit, QWidget


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring backend that keeps entries in a dict (a real backend of the library's API).

    Its negative priority keeps the library from ever choosing it on its own.
    """

    priority = -1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("no such entry") from None


@contextmanager
def keyring_backend(backend: keyring.backend.KeyringBackend) -> Iterator[None]:
    """Use *backend* as the process's keyring inside the block."""
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def shown_texts(widget: QWidget) -> list[str]:
    """Every text *widget* and its children show or hold for display (tooltips included)."""
    texts: list[str] = []
    for w in [widget, *widget.findChildren(QWidget)]:
        texts += [w.toolTip(), w.statusTip(), w.whatsThis(), w.windowTitle()]
        texts += [w.accessibleName(), w.accessibleDescription()]
        if isinstance(w, QLabel | QAbstractButton):
            texts.append(w.text())
        if isinstance(w, QLineEdit):
            texts += [w.displayText(), w.placeholderText()]
    return [t for t in texts if t]


def files_containing(root: Path, needle: str) -> list[Path]:
    """Every file under *root* whose bytes contain *needle* (UTF-8 or UTF-16)."""
    patterns = [needle.encode("utf-8"), needle.encode("utf-16-le")]
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if any(p in data for p in patterns):
                found.append(path)
    return found
