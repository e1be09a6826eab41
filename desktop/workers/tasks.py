"""Run plain functions on worker threads and hear back through Qt signals.

A :class:`Task` gets plain inputs, runs ``work(report, cancelled)`` on a pool thread and returns
plain data; everything it says reaches the GUI thread as queued signals. It never touches a
widget. A :class:`TaskPool` keeps every task it started alive until it finished, can cancel them
all, and is waited for at exit, so no thread outlives the window.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

_log = logging.getLogger(__name__)

#: What a task's function receives: a way to report progress, and the cancel flag to honour.
Report = Callable[[object], None]
Work = Callable[[Report, threading.Event], object]


class TaskSignals(QObject):
    """The signals of one task (a QRunnable is not a QObject, so they live here).

    Signals:
        progress(object): something the work reported on its way (plain data).
        result(object): what the work returned (not emitted when cancelled).
        failed(str): the work raised; the message is for people.
        finished(): the task is over, whatever happened.
    """

    progress = Signal(object)
    result = Signal(object)
    failed = Signal(str)
    finished = Signal()


class Task(QRunnable):
    """One piece of background work.

    Create it on the GUI thread (so its signals are delivered there), connect its signals to
    ``@Slot`` methods, then hand it to :meth:`TaskPool.start`.
    """

    def __init__(self, work: Work, name: str = "task") -> None:
        super().__init__()
        # Python owns the task; Qt deleting it after run() would free it twice.
        self.setAutoDelete(False)
        self.signals = TaskSignals()
        self.name = name
        self._work = work
        self._cancel = threading.Event()
        self.started = False

    def cancel(self) -> None:
        """Ask the work to stop at its next check of the cancel flag."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancel.is_set()

    def run(self) -> None:
        """Run the work (on a pool thread)."""
        self.started = True
        try:
            value = self._work(self.signals.progress.emit, self._cancel)
        except Exception as exc:  # noqa: BLE001 - reported to the GUI; a worker must not die
            _log.exception("%s failed", self.name)
            self.signals.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            if not self._cancel.is_set():
                self.signals.result.emit(value)
        finally:
            self.signals.finished.emit()


class TaskPool(QObject):
    """A thread pool that remembers its tasks, so they can be cancelled and waited for.

    Signals:
        idle(): the last running task finished.
    """

    idle = Signal()
    _all: ClassVar[weakref.WeakSet[TaskPool]] = weakref.WeakSet()

    def __init__(self, max_threads: int, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, max_threads))
        self._tasks: set[Task] = set()
        TaskPool._all.add(self)

    def start(self, task: Task) -> Task:
        """Run *task* on this pool; returns it."""
        self._tasks.add(task)
        task.signals.finished.connect(self._on_finished)
        self._pool.start(task)
        return task

    @Slot()
    def _on_finished(self) -> None:
        sender = self.sender()
        self._tasks = {t for t in self._tasks if t.signals is not sender}
        if not self._tasks:
            self.idle.emit()

    @property
    def busy(self) -> bool:
        """Whether a task is queued or running."""
        return bool(self._tasks)

    def cancel_all(self) -> None:
        """Cancel every task: queued ones never start, running ones stop at their next check."""
        self._pool.clear()
        for task in list(self._tasks):
            task.cancel()
        # Tasks cleared from the queue never run, so they will never say they finished.
        self._tasks = {t for t in self._tasks if t.started}
        if not self._tasks:
            self.idle.emit()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until every running task has returned; ``False`` on timeout."""
        return self._pool.waitForDone(msecs)

    def shutdown(self, msecs: int = 30_000) -> bool:
        """Cancel everything and wait for it (at exit)."""
        self.cancel_all()
        return self.wait(msecs)

    @classmethod
    def every_pool(cls) -> list[TaskPool]:
        """Every pool still alive (tests check none is left busy).

        A pool deleted with its parent widget is left out: destroying a QThreadPool waits for
        its threads, so it has none left.
        """
        return [pool for pool in list(cls._all) if shiboken6.isValid(pool)]


def run_task(pool: TaskPool, work: Work, name: str, **slots: Callable[..., Any]) -> Task:
    """Start *work* on *pool* with its signals connected to *slots* (progress, result, ...)."""
    task = Task(work, name)
    for signal_name, slot in slots.items():
        getattr(task.signals, signal_name).connect(slot)
    return pool.start(task)
