"""Collecting a runner's events, which arrive from its worker threads."""

from __future__ import annotations

import threading
from typing import TypeVar

from desktop.core.runner import Event

E = TypeVar("E")


class Recorder:
    """Collects run events from worker threads (pass it as the runner's event callback)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        """The events of *kind* so far, in order."""
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]
