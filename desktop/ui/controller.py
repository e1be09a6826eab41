"""The window's link between the session (plain data) and the workers that fill it in.

The controller owns the :class:`~desktop.core.session.Session` and the worker pools. It starts
reading (collect, probe, judge), thumbnails and preparation on workers, applies their plain
results to the session on the GUI thread, and tells the views what changed through signals.
Views never change the session themselves: they call the controller.

CONTRACT (stub): the signatures and signals below are fixed; the bodies are being written.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from desktop.core.models import Settings
from desktop.core.session import Session


class SessionController(QObject):
    """Owns the session and runs its background work.

    Signals:
        items_added(list): indices of items just added (placeholders; not yet read).
        items_removed(): items were removed or cleared (views reset).
        items_changed(list): indices whose probe, findings, sent bytes or run state changed.
        plan_changed(): the request plan or the request findings may have changed.
        settings_changed(object): the settings changed (the new :class:`Settings`).
        thumbnail_ready(str, QImage): a thumbnail for a path (a QImage: make the QPixmap on the
            GUI thread).
        busy_changed(bool): whether reading or preparing work is under way.
        status_message(str): a short message for the status bar.
    """

    items_added = Signal(list)
    items_removed = Signal()
    items_changed = Signal(list)
    plan_changed = Signal()
    settings_changed = Signal(object)
    thumbnail_ready = Signal(str, QImage)
    busy_changed = Signal(bool)
    status_message = Signal(str)

    def __init__(self, settings: Settings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = Session(settings)

    def add_paths(self, paths: Sequence[str]) -> None:
        """Add files and folders (folders are walked on a worker); returns at once."""
        raise NotImplementedError

    def remove(self, indices: Sequence[int]) -> None:
        """Remove the items at *indices*."""
        raise NotImplementedError

    def clear(self) -> None:
        """Remove every item."""
        raise NotImplementedError

    def set_settings(self, settings: Settings) -> None:
        """Re-judge every item under *settings* at once; prepare again only what must be."""
        raise NotImplementedError

    def request_thumbnail(self, path: str) -> None:
        """Ask for a thumbnail of *path* (deduplicated; answered by ``thumbnail_ready``)."""
        raise NotImplementedError

    def mark_embedded(self, sha256s: Sequence[str]) -> None:
        """Record that the vectors of these sent images are stored (after a run's response)."""
        raise NotImplementedError

    def mark_failed(self, sha256: str, message: str) -> None:
        """Record why a run could not embed an image."""
        raise NotImplementedError

    def refresh_embedded(self, stored: set[str]) -> None:
        """Mark as embedded exactly the items whose sent sha256 is in *stored*."""
        raise NotImplementedError

    @property
    def busy(self) -> bool:
        """Whether reading or preparing work is under way."""
        raise NotImplementedError

    def wait_idle(self, msecs: int = 30_000) -> bool:
        """Block until no reading or preparing work is left (tests, screenshots)."""
        raise NotImplementedError

    def shutdown(self) -> None:
        """Cancel all work and wait for it (at exit)."""
        raise NotImplementedError
