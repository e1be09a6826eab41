"""Write an export on a worker: :func:`desktop.core.export.export` with a store opened there."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop.core.export import ExportError, ExportItem, ExportSettings, ExportSummary, export
from desktop.core.store import Store, StoreError, StoreReadOnlyError
from desktop.workers.tasks import Report, Task, TaskPool, run_task


@dataclass(frozen=True, slots=True)
class ExportJob:
    """One export, as plain values.

    Attributes:
        store_path: the SQLite store to read.
        items: the images to write, in order.
        settings: the settings the vectors were made with.
        target: the file to write.
        fmt: the format (``csv``, ``json``, ``jsonl``, ``npy``, ``npz``, ``tsv``).
        embedding_type: the one type to write, or ``None`` for the default (JSON and JSONL:
            every type; the others: the first).
    """

    store_path: Path
    items: tuple[ExportItem, ...]
    settings: ExportSettings
    target: Path
    fmt: str
    embedding_type: str | None = None


@dataclass(frozen=True, slots=True)
class ExportOutcome:
    """What an export did: a summary, or why it could not be written."""

    summary: ExportSummary | None
    error: str = ""


def write_export(job: ExportJob) -> ExportOutcome:
    """Carry out *job* (blocking); failures come back as plain words, never as exceptions."""
    try:
        try:
            store = Store(job.store_path)
        except StoreReadOnlyError:
            # A file or folder that cannot be written still gives its vectors.
            store = Store(job.store_path, read_only=True)
        with store:
            summary = export(
                store,
                job.items,
                job.settings,
                job.target,
                job.fmt,
                embedding_type=job.embedding_type,
            )
    except (ExportError, StoreError) as exc:
        return ExportOutcome(None, str(exc))
    return ExportOutcome(summary)


def start_export(
    pool: TaskPool,
    job: ExportJob,
    result: Callable[[ExportOutcome], None],
    failed: Callable[[str], None],
) -> Task:
    """Write *job* on *pool*; its :class:`ExportOutcome` goes to ``result``.

    ``failed(message)`` hears of an unexpected error. Both must be ``@Slot`` methods of
    GUI-thread QObjects.
    """

    def work(_report: Report, _cancelled: threading.Event) -> ExportOutcome:
        return write_export(job)

    return run_task(pool, work, "export", result=result, failed=failed)
