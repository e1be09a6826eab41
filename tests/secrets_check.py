"""Helpers for the key tests: an in-memory keyring, and scans for a key where it must not be.

Shared by the window tests (tests/ui) and the security suite (tests/security). A scan looks for
the key in every form it could take on its way out: as it is, in UTF-16, in base64 (at each of
the three alignments a longer base64 text could hold it), in hex, percent-encoded, and all but
its last four characters (which alone may be shown).
"""

from __future__ import annotations

import base64
import os
import urllib.parse
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


def leak_forms(secret: str) -> dict[str, bytes]:
    """The byte patterns by which *secret* would show if it leaked, by name."""
    raw = secret.encode("utf-8")
    forms = {
        "the key": raw,
        "the key without its last four characters": raw[:-4],
        "the key in UTF-16": secret.encode("utf-16-le"),
        "the key in hex": raw.hex().encode(),
        "the key percent-encoded": urllib.parse.quote(secret, safe="").encode(),
    }
    for offset in range(3):
        # Inside a longer base64 text the key starts after 0, 1 or 2 other bytes; keep only the
        # characters that depend on the key's bytes alone.
        first, last = (offset * 8 + 5) // 6, (offset + len(raw)) * 8 // 6
        padded = bytes(offset) + raw
        for name, encode in (
            ("base64", base64.b64encode),
            ("URL-safe base64", base64.urlsafe_b64encode),
        ):
            forms[f"the key in {name} (offset {offset})"] = encode(padded)[first:last]
    return forms


def leaks_in(data: bytes | str, secret: str) -> list[str]:
    """The names of the forms of *secret* that *data* holds (empty when none)."""
    blob = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    return [name for name, form in leak_forms(secret).items() if form in blob]


def files_containing(root: Path, needle: str) -> list[Path]:
    """Every file under *root* whose bytes hold *needle* in any of its :func:`leak_forms`."""
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if leaks_in(data, needle):
                found.append(path)
    return found
