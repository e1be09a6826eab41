"""Start the window: the QApplication, the main window, and the screenshot mode.

Heavy modules (the SDK, the emulator, numpy) are imported only when first needed, so the window
appears quickly.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from desktop import __version__
from desktop.resources import resources_dir, samples_dir

APP_NAME = "Embed Studio"
ORGANIZATION = "Embed Studio"
#: How long the screenshot mode waits for thumbnails and findings before giving up.
SCREENSHOT_TIMEOUT_MS = 120_000


def application_icon() -> QIcon:
    """The app's icon (from the SVG source)."""
    return QIcon(str(resources_dir() / "icon.svg"))


def build_application(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication with the app's names set (QSettings uses them)."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication(list(argv or sys.argv[:1]))
    app.setWindowIcon(application_icon())
    app.setDesktopFileName("embed-studio")
    return app


def store_notice(path: Path) -> str | None:
    """Open the store once at start: a damaged one is set aside and a fresh one started.

    Returns what the window must tell the user (where a damaged store went, or why the store
    cannot be used), or ``None`` when all is well. This checks every page of the file, a
    fraction of a second for most stores, before the window opens.
    """
    from desktop.core.store import StoreError, open_store  # numpy: only once the app starts

    try:
        store, set_aside = open_store(path)
    except StoreError as exc:
        return str(exc)
    store.close()
    return set_aside.message if set_aside is not None else None


def run_gui(paths: Sequence[str], screenshot: Path | None = None) -> int:
    """Open the window with *paths* (the samples on a first start); returns the exit status."""
    logging.basicConfig(level=logging.WARNING)
    app = build_application()
    from desktop.ui.main_window import MainWindow  # imported after the app exists

    window = MainWindow()
    notice = store_notice(window.store_path)
    window.show()
    if notice:
        window.show_store_notice(notice)
    chosen = list(paths)
    if not chosen and window.first_start():
        chosen = [str(samples_dir())]
    if chosen:
        window.add_paths(chosen)
    if screenshot is not None:
        _take_screenshot_when_ready(app, window, screenshot)
    status = app.exec()
    window.shutdown()
    return status


def _take_screenshot_when_ready(app: QApplication, window: object, path: Path) -> None:
    """Save a PNG of the window once every thumbnail and finding is ready, then quit."""
    from desktop.ui.main_window import MainWindow

    assert isinstance(window, MainWindow)
    waited = {"ms": 0, "selected": 0}
    step = 100

    def check() -> None:
        waited["ms"] += step
        settled = window.is_settled()
        if settled and not waited["selected"]:
            # Show the preview of an image with something to say, as a user would click one.
            waited["selected"] = 1
            if window.select_first_with(("warning", "error")):
                return
        if settled or waited["ms"] >= SCREENSHOT_TIMEOUT_MS:
            timer.stop()
            saved = window.grab().save(str(path), "PNG")
            if not saved:
                print(f"embed-studio: could not write the screenshot {path}", file=sys.stderr)
            app.exit(0 if saved and waited["ms"] < SCREENSHOT_TIMEOUT_MS else 1)

    timer = QTimer(window)
    timer.setInterval(step)
    timer.timeout.connect(check)
    timer.start()
