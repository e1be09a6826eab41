"""The window's link between the session (plain data) and the workers that fill it in.

The controller owns the :class:`~desktop.core.session.Session` and the worker pools. It starts
reading (collect, probe, judge), thumbnails and preparation on workers, applies their plain
results to the session on the GUI thread, and tells the views what changed through signals.
Views never change the session themselves: they call the controller.

Paths are the items' stable identity: indices shift when items are removed, so every worker
result names its path and is mapped back with :meth:`Session.index_of`; results for items that
are gone are dropped. Results arrive in bursts (probes in chunks, prepared images one by one), so
the plan is announced through a short single-shot timer: thousands of results re-plan a few
times a second, not thousands of times.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import (
    QCoreApplication,
    QDeadlineTimer,
    QEvent,
    QEventLoop,
    QObject,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QImage

from desktop.core.images import Probe
from desktop.core.models import DECOMPRESSION_BOMB_PIXELS, Settings
from desktop.core.rules import Status
from desktop.core.session import Progress, Session, SessionItem
from desktop.workers.preparing import Prepared, preparing_work
from desktop.workers.reading import Collected, ProbeChunk, reading_work
from desktop.workers.tasks import TaskPool, run_task
from desktop.workers.thumbnails import THUMBNAIL_SIZE, Thumbnail, ThumbnailJob, thumbnail_work

#: How long results gather before the plan is announced (and new preparing starts).
SETTLE_MS: Final = 40
#: Images per preparing task (the cancel flag is checked between images).
PREPARE_BATCH: Final = 4
#: Thumbnails per task; the newest requests go first (what the user scrolled to).
THUMBNAIL_BATCH: Final = 8
#: Threads making thumbnails, in a pool of their own so thumbnails never wait behind reading.
THUMBNAIL_THREADS: Final = 2
READING_THREADS: Final = 2
#: Threads probing files. Probing is mostly Python (header parsing), so more threads add little
#: speed but make the window wait longer for Python's lock (see tests/bench/bench_ui.py).
PROBE_THREADS: Final = 2


@dataclass(slots=True)
class _Reading:
    """How far one piece of reading got (for the status message)."""

    total: int | None = None
    done: int = 0


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


class SessionController(QObject):
    """Owns the session and runs its background work.

    Signals:
        items_added(list): indices of items just added (placeholders; not yet read).
        items_removed(): items were removed or cleared (views reset).
        items_changed(list): indices whose probe, findings, sent bytes or run state changed.
        plan_changed(): the request plan or the request findings may have changed.
        settings_changed(object): the settings changed (the new :class:`Settings`).
        thumbnail_ready(str, QImage): a thumbnail for a path (a QImage: make the QPixmap on the
            GUI thread). A null QImage means the file has no preview (it cannot be decoded).
        busy_changed(bool): whether reading or preparing work is under way.
        status_message(str): a short message for the status bar.
        paths_skipped(list): what walking added folders left out, as
            :class:`~desktop.core.images.Skipped` (hidden files, files that are not images).
    """

    items_added = Signal(list)
    items_removed = Signal()
    items_changed = Signal(list)
    plan_changed = Signal()
    settings_changed = Signal(object)
    thumbnail_ready = Signal(str, QImage)
    busy_changed = Signal(bool)
    status_message = Signal(str)
    paths_skipped = Signal(list)

    def __init__(
        self,
        settings: Settings | None = None,
        parent: QObject | None = None,
        *,
        prepare_threads: int | None = None,
        probe_threads: int | None = None,
        thumbnail_threads: int = THUMBNAIL_THREADS,
        thumbnail_size: int = THUMBNAIL_SIZE,
    ) -> None:
        """A controller over an empty session judged under *settings*.

        Args:
            settings: the settings to start with (the defaults when ``None``).
            parent: the owning QObject.
            prepare_threads: threads preparing images (default: one less than the cores).
            probe_threads: threads probing files (default :data:`PROBE_THREADS`).
            thumbnail_threads: threads making thumbnails.
            thumbnail_size: the longer side of a thumbnail in pixels.
        """
        super().__init__(parent)
        self.session = Session(settings)
        self.thumbnail_size = thumbnail_size
        self._probe_threads = probe_threads or PROBE_THREADS
        # One core is left to the window while images are prepared.
        threads = prepare_threads or max(1, (os.cpu_count() or 2) - 1)
        self._reading_pool = TaskPool(READING_THREADS, "reading", self)
        self._preparing_pool = TaskPool(threads, "preparing", self)
        self._thumbnail_threads = max(1, thumbnail_threads)
        self._thumbnail_pool = TaskPool(self._thumbnail_threads, "thumbnails", self)
        self._reading_pool.idle.connect(self._on_pool_idle)
        self._preparing_pool.idle.connect(self._on_pool_idle)

        self._next_batch = 0
        self._readings: dict[int, _Reading] = {}
        self._reading_tasks: dict[QObject, int] = {}

        self._preparing: dict[str, QObject] = {}  # path -> the task's signals
        self._prepare_tasks: dict[QObject, list[str]] = {}
        self._prepare_due = False
        self._changed_paths: set[str] = set()
        self._paths_by_sha: dict[str, set[str]] = {}

        self._thumbs_pending: set[str] = set()  # asked for and not yet answered
        self._thumbs_unprobed: set[str] = set()  # asked for before the file was read
        self._thumb_queue: list[ThumbnailJob] = []
        self._thumb_unreadable: list[str] = []
        self._thumb_tasks: dict[QObject, list[str]] = {}

        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(SETTLE_MS)
        self._settle_timer.timeout.connect(self._settle)
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setSingleShot(True)
        self._thumb_timer.setInterval(0)
        self._thumb_timer.timeout.connect(self._start_thumbnails)

        self._busy = False
        self._status = ""
        self._closed = False

    # -- what views call -------------------------------------------------------------------

    def add_paths(self, paths: Sequence[str]) -> None:
        """Add files and folders (folders are walked on a worker); returns at once."""
        if self._closed or not paths:
            return
        batch = self._next_batch
        self._next_batch += 1
        self._readings[batch] = _Reading()
        task = run_task(
            self._reading_pool,
            reading_work([os.fspath(p) for p in paths], batch, max_workers=self._probe_threads),
            "reading",
            progress=self._on_reading_report,
            failed=self._on_task_failed,
            finished=self._on_reading_finished,
        )
        self._reading_tasks[task.signals] = batch
        self._update_busy()
        self._update_status()

    def remove(self, indices: Sequence[int]) -> None:
        """Remove the items at *indices*."""
        count = len(self.session.items)
        drop = {n for n in indices if 0 <= n < count}
        if not drop:
            return
        self.session.remove(drop)
        self._forget_missing_paths()
        self.items_removed.emit()
        self._settle_later(prepare=True)
        self._update_status()

    def remove_paths(self, paths: Iterable[str]) -> None:
        """Remove the items of *paths* (views that know paths, not indices)."""
        found = (self.session.index_of(p) for p in paths)
        self.remove([n for n in found if n is not None])

    def clear(self) -> None:
        """Remove every item."""
        for pool in (self._reading_pool, self._preparing_pool, self._thumbnail_pool):
            pool.cancel_all()
        self._readings.clear()
        self._reading_tasks.clear()
        self._forget_preparing()
        self._forget_thumbnails()
        self._changed_paths.clear()
        self._paths_by_sha.clear()
        self.session.clear()
        self.items_removed.emit()
        self._settle_later(prepare=False)
        self._update_status()

    def set_settings(self, settings: Settings) -> None:
        """Re-judge every item under *settings* at once; prepare again only what must be."""
        old_key = self.session.key
        self.session.set_settings(settings)
        # Set before cancelling: the pool going idle must not look like the end of the work.
        self._prepare_due = True
        if self.session.key != old_key:
            # What is being prepared belongs to the old key: stop it.
            self._preparing_pool.cancel_all()
            self._forget_preparing()
        self.settings_changed.emit(settings)
        if self.session.items:
            self.items_changed.emit(list(range(len(self.session.items))))
        self._settle_later(prepare=True)

    def request_thumbnail(self, path: str) -> None:
        """Ask for a thumbnail of *path* (deduplicated; answered by ``thumbnail_ready``).

        A file is decoded only once it has been read: the probe says which way up it is and
        whether it can be decoded at all (unreadable files and files declaring too many pixels
        are answered with a null image, without decoding).
        """
        if self._closed or path in self._thumbs_pending:
            return
        index = self.session.index_of(path)
        if index is None:
            return
        self._thumbs_pending.add(path)
        probe = self.session.items[index].probe
        if probe is None:
            self._thumbs_unprobed.add(path)
        else:
            self._queue_thumbnail(probe)

    def mark_embedded(self, sha256s: Sequence[str]) -> None:
        """Record that the vectors of these sent images are stored (after a run's response)."""
        indices = self.session.indices_with_sha(sha256s)
        if indices:
            self.session.set_embedded(indices)
            self.items_changed.emit(indices)
            self._settle_later(prepare=False)

    def mark_failed(self, sha256: str, message: str) -> None:
        """Record why a run could not embed an image."""
        indices = self.session.indices_with_sha([sha256])
        for n in indices:
            self.session.set_failed(n, message)
        if indices:
            self.items_changed.emit(indices)
            self._settle_later(prepare=False)

    def refresh_embedded(self, stored: set[str]) -> None:
        """Mark as embedded exactly the items whose sent sha256 is in *stored*.

        Call it after a settings change with what the store holds under the new settings.
        """
        now_stored: list[int] = []
        not_stored: list[int] = []
        for n, item in enumerate(self.session.items):
            sent = self.session.sent_of(n)
            embedded = sent is not None and sent.sha256 in stored
            if embedded != item.embedded:
                (now_stored if embedded else not_stored).append(n)
        self.session.set_embedded(now_stored, True)
        self.session.set_embedded(not_stored, False)
        changed = sorted(now_stored + not_stored)
        if changed:
            self.items_changed.emit(changed)
            self._settle_later(prepare=False)

    # -- what views read -------------------------------------------------------------------

    def item(self, index: int) -> SessionItem:
        """The item at *index*."""
        return self.session.items[index]

    def progress(self, index: int) -> Progress:
        """Where item *index* is on its way (a duplicate is ready once its first copy is)."""
        return self.session.progress(index)

    @property
    def busy(self) -> bool:
        """Whether reading or preparing work is under way, or its results are not applied yet."""
        return (
            self._reading_pool.busy
            or self._preparing_pool.busy
            or self._prepare_due
            or self._settle_timer.isActive()
        )

    @property
    def thumbnails_busy(self) -> bool:
        """Whether thumbnails are being made or wait to be."""
        return bool(
            self._thumbnail_pool.busy
            or self._thumb_queue
            or self._thumb_unreadable
            or self._thumb_timer.isActive()
        )

    @property
    def status(self) -> str:
        """The last status message."""
        return self._status

    def wait_idle(self, msecs: int = 30_000, thumbnails: bool = False) -> bool:
        """Block until no reading or preparing work is left (tests, screenshots).

        Events are processed while waiting, so results are applied. With *thumbnails*, also
        wait for every thumbnail asked for (of files already read). ``False`` on timeout.
        """
        deadline = QDeadlineTimer(msecs)
        loop = QEventLoop()
        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(loop.quit)
        wakers = (self.busy_changed, self._settle_timer.timeout, self._thumbnail_pool.idle)
        for signal in wakers:
            signal.connect(loop.quit)
        try:
            while self._working(thumbnails) and not deadline.hasExpired():
                timer.start(max(1, deadline.remainingTime()))
                loop.exec()
        finally:
            timer.stop()
            for signal in wakers:
                signal.disconnect(loop.quit)
        return not self._working(thumbnails)

    def _working(self, thumbnails: bool) -> bool:
        return self.busy or (thumbnails and self.thumbnails_busy) or self._settle_timer.isActive()

    def shutdown(self) -> None:
        """Cancel all work and wait for it (at exit)."""
        self._closed = True
        self._settle_timer.stop()
        self._thumb_timer.stop()
        pools = (self._reading_pool, self._preparing_pool, self._thumbnail_pool)
        for pool in pools:
            pool.cancel_all()
        for pool in pools:
            pool.wait()
            # Deliver the finished tasks' queued "finished" signals now, so no pool still
            # counts a task that has returned.
            QCoreApplication.sendPostedEvents(pool, QEvent.Type.MetaCall)
        self._prepare_due = False
        self._forget_preparing()
        self._forget_thumbnails()
        self._update_busy()

    # -- reading ---------------------------------------------------------------------------

    @Slot(object)
    def _on_reading_report(self, report: object) -> None:
        if self._closed:
            return
        if isinstance(report, Collected):
            self._on_collected(report)
        elif isinstance(report, ProbeChunk):
            self._on_probes(report)

    def _on_collected(self, report: Collected) -> None:
        reading = self._readings.get(report.batch)
        if reading is None:
            return  # cleared while it was walking
        reading.total = len(report.files)
        added = self.session.add_paths(report.files)
        if added:
            self.items_added.emit(added)
        if report.skipped:
            self.paths_skipped.emit(list(report.skipped))
        self._update_status()

    def _on_probes(self, report: ProbeChunk) -> None:
        reading = self._readings.get(report.batch)
        if reading is None:
            return
        reading.done += len(report.probes)
        changed: set[int] = set()
        for path, probe in report.probes:
            index = self.session.index_of(path)
            if index is None:
                continue
            changed.update(self.session.set_probe(index, probe))
            self._note_probe(path, probe)
        if changed:
            self.items_changed.emit(sorted(changed))
        self._settle_later(prepare=True)
        self._update_status()

    def _note_probe(self, path: str, probe: Probe) -> None:
        if probe.ok and probe.sha256 is not None:
            self._paths_by_sha.setdefault(probe.sha256, set()).add(path)
        if path in self._thumbs_unprobed:
            self._thumbs_unprobed.discard(path)
            self._queue_thumbnail(probe)

    @Slot()
    def _on_reading_finished(self) -> None:
        batch = self._reading_tasks.pop(self.sender(), None)
        if batch is not None:
            self._readings.pop(batch, None)
        self._update_status()

    @Slot(str)
    def _on_task_failed(self, message: str) -> None:
        self._set_status(f"Something went wrong while reading: {message}")

    # -- preparing -------------------------------------------------------------------------

    def _settle_later(self, prepare: bool) -> None:
        """Announce the plan (and start preparing, if *prepare*) once results stop arriving."""
        if self._closed:
            return
        self._prepare_due = self._prepare_due or prepare
        if not self._settle_timer.isActive():
            self._settle_timer.start()
        self._update_busy()

    @Slot()
    def _settle(self) -> None:
        if self._closed:
            return
        if self._changed_paths:
            found = (self.session.index_of(p) for p in self._changed_paths)
            changed = sorted(n for n in found if n is not None)
            self._changed_paths.clear()
            if changed:
                self.items_changed.emit(changed)
        if self._prepare_due:
            self._prepare_due = False
            self._start_preparing()
        self.plan_changed.emit()
        self._update_busy()
        self._update_status()

    def _start_preparing(self) -> None:
        settings = self.session.settings
        jobs: list[tuple[str, Probe]] = []
        for n in self.session.needs_prepare():
            item = self.session.items[n]
            if item.path not in self._preparing and item.probe is not None:
                jobs.append((item.path, item.probe))
        for start in range(0, len(jobs), PREPARE_BATCH):
            chunk = jobs[start : start + PREPARE_BATCH]
            task = run_task(
                self._preparing_pool,
                preparing_work(chunk, settings),
                "preparing",
                progress=self._on_prepared,
                finished=self._on_preparing_finished,
            )
            paths = [path for path, _probe in chunk]
            self._prepare_tasks[task.signals] = paths
            for path in paths:
                self._preparing[path] = task.signals

    @Slot(object)
    def _on_prepared(self, report: object) -> None:
        if self._closed or not isinstance(report, Prepared):
            return
        current = report.key == self.session.key
        if current and self._preparing.get(report.path) is self.sender():
            del self._preparing[report.path]
        index = self.session.index_of(report.path)
        if index is None:
            return
        probe = self.session.items[index].probe
        if probe is None or probe.sha256 != report.source_sha256:
            return  # removed and added again, or the file changed since
        self.session.set_sent(index, report.key, report.outcome)
        if current:
            self._changed_paths.add(report.path)
            self._changed_paths.update(self._paths_by_sha.get(report.source_sha256 or "", ()))
            self._settle_later(prepare=False)

    @Slot()
    def _on_preparing_finished(self) -> None:
        signals = self.sender()
        for path in self._prepare_tasks.pop(signals, []):
            if self._preparing.get(path) is signals:
                del self._preparing[path]

    def _forget_preparing(self) -> None:
        self._preparing.clear()
        self._prepare_tasks.clear()

    # -- thumbnails ------------------------------------------------------------------------

    def _queue_thumbnail(self, probe: Probe) -> None:
        if not probe.ok or probe.pixels > DECOMPRESSION_BOMB_PIXELS:
            self._thumb_unreadable.append(probe.path)
        else:
            self._thumb_queue.append(ThumbnailJob.of(probe))
        # Answer later, never inside the caller (a view asking while it paints).
        if not self._thumb_timer.isActive():
            self._thumb_timer.start()

    @Slot()
    def _start_thumbnails(self) -> None:
        if self._closed:
            return
        unreadable, self._thumb_unreadable = self._thumb_unreadable, []
        for path in unreadable:
            self._thumbs_pending.discard(path)
            self.thumbnail_ready.emit(path, QImage())
        while self._thumb_queue and len(self._thumb_tasks) < self._thumbnail_threads:
            # Newest first: what the user just scrolled to matters more than what went by.
            chunk = self._thumb_queue[-THUMBNAIL_BATCH:][::-1]
            del self._thumb_queue[-THUMBNAIL_BATCH:]
            task = run_task(
                self._thumbnail_pool,
                thumbnail_work(chunk, self.thumbnail_size),
                "thumbnails",
                progress=self._on_thumbnail,
                finished=self._on_thumbnails_finished,
            )
            self._thumb_tasks[task.signals] = [job.path for job in chunk]

    @Slot(object)
    def _on_thumbnail(self, report: object) -> None:
        if self._closed or not isinstance(report, Thumbnail):
            return
        self._thumbs_pending.discard(report.path)
        image = report.image if report.image is not None else QImage()
        self.thumbnail_ready.emit(report.path, image)

    @Slot()
    def _on_thumbnails_finished(self) -> None:
        paths = self._thumb_tasks.pop(self.sender(), None)
        if paths is None:
            return  # a task from before a clear
        # A cancelled task may leave files unanswered: they may be asked for again.
        self._thumbs_pending.difference_update(paths)
        self._start_thumbnails()

    def _forget_thumbnails(self) -> None:
        self._thumbs_pending.clear()
        self._thumbs_unprobed.clear()
        self._thumb_queue.clear()
        self._thumb_unreadable.clear()
        self._thumb_tasks.clear()

    # -- bookkeeping -----------------------------------------------------------------------

    def _forget_missing_paths(self) -> None:
        """After a removal: forget what belonged to items that are gone."""
        present = {item.path for item in self.session.items}
        self._paths_by_sha = {}
        for item in self.session.items:
            probe = item.probe
            if probe is not None and probe.ok and probe.sha256 is not None:
                self._paths_by_sha.setdefault(probe.sha256, set()).add(item.path)
        gone = self._thumbs_unprobed - present
        self._thumbs_unprobed -= gone
        self._thumbs_pending -= gone
        self._changed_paths &= present

    @Slot()
    def _on_pool_idle(self) -> None:
        self._update_busy()
        self._update_status()

    def _update_busy(self) -> None:
        busy = self.busy
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    def _update_status(self) -> None:
        if self._closed:
            return
        readings = list(self._readings.values())
        if readings:
            if any(r.total is None for r in readings):
                self._set_status("Looking for images…")
            else:
                total = sum(r.total or 0 for r in readings)
                done = sum(r.done for r in readings)
                self._set_status(f"Reading {done:,} of {_plural(total, 'image')}…")
        elif self._preparing:
            self._set_status(f"Preparing {_plural(len(self._preparing), 'image')}…")
        else:
            self._set_status(self._summary())

    def _summary(self) -> str:
        items = self.session.items
        if not items:
            return ""
        counts = dict.fromkeys(Status, 0)
        for item in items:
            if item.status is not None:
                counts[item.status] += 1
        parts = [_plural(len(items), "image")]
        details = []
        if counts[Status.OK]:
            details.append(f"{counts[Status.OK]:,} ready")
        if counts[Status.WARNING]:
            details.append(f"{counts[Status.WARNING]:,} with warnings")
        if counts[Status.ERROR]:
            details.append(f"{counts[Status.ERROR]:,} cannot be sent")
        return ": ".join([*parts, ", ".join(details)]) if details else parts[0]

    def _set_status(self, text: str) -> None:
        if text != self._status:
            self._status = text
            self.status_message.emit(text)
