"""Run :class:`~desktop.core.runner.Runner` on a worker, its events arriving as Qt signals.

A :class:`RunTask` opens its own :class:`~desktop.core.store.Store` in the worker from a plain
path, runs the runner there, and forwards every runner event, unchanged (plain frozen
dataclasses), through the task's ``progress`` signal. Before the run it reports the images
whose vectors are already stored (:class:`AlreadyEmbedded`), and last of all the
:class:`~desktop.core.runner.RunResult` itself, cancelled or not, so the window always hears
how a run ended. Cancelling the task cancels the runner at once.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop.core.runner import RunConfig, RunItem, Runner, RunResult
from desktop.core.store import Store, StoreError, VectorKey
from desktop.workers.key_check import key_problem, scrubbed
from desktop.workers.tasks import Report, Task, TaskPool

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunJob:
    """Everything a run needs, as plain values (the key included, as a plain string).

    Attributes:
        config: settings, key, endpoint and limits.
        items: the distinct images to embed.
        store_path: the SQLite store the worker opens.
    """

    config: RunConfig
    items: tuple[RunItem, ...]
    store_path: Path


@dataclass(frozen=True, slots=True)
class AlreadyEmbedded:
    """Images of the run whose vectors were stored before it started (they are not sent)."""

    sha256s: tuple[str, ...]


def stored_before(store: Store, job: RunJob) -> tuple[str, ...]:
    """The sha256s of *job*'s items whose every requested vector is already in *store*."""
    settings = job.config.settings
    dimension = settings.effective_dimension
    if dimension is None:
        return ()
    keys = {
        item.sha256: [
            VectorKey(
                item.sha256,
                settings.model,
                settings.effective_input_type,
                dimension,
                kind,
                job.config.endpoint.url,
            )
            for kind in settings.embedding_types
        ]
        for item in job.items
    }
    missing = {key.sha256 for key in store.missing(k for ks in keys.values() for k in ks)}
    return tuple(sha for sha in keys if sha not in missing)


class RunTask(Task):
    """One run on a worker; :meth:`cancel` reaches the runner directly."""

    def __init__(self, job: RunJob) -> None:
        super().__init__(self._execute, name="embed run")
        self._job = job
        self._runner_lock = threading.Lock()
        self._runner: Runner | None = None

    def cancel(self) -> None:
        """Stop after the requests in flight; their vectors are still stored."""
        with self._runner_lock:
            super().cancel()
            runner = self._runner
        if runner is not None:
            runner.cancel()

    def _execute(self, report: Report, cancelled: threading.Event) -> RunResult:
        result = self._run(report, cancelled)
        report(result)
        return result

    def _run(self, report: Report, cancelled: threading.Event) -> RunResult:
        job = self._job
        secret = job.config.api_key
        problem = key_problem(secret)
        if problem is not None:
            return RunResult(outcome="stopped", message=f"The API key cannot be used: {problem}")
        try:
            with Store(job.store_path) as store:
                report(AlreadyEmbedded(stored_before(store, job)))
                runner = Runner(job.config, store, report)
                with self._runner_lock:
                    self._runner = runner
                    if cancelled.is_set():
                        runner.cancel()
                try:
                    return runner.run(job.items)
                finally:
                    with self._runner_lock:
                        self._runner = None
        except StoreError as exc:
            return RunResult(outcome="stopped", message=f"The result store cannot be used: {exc}")
        except Exception as exc:  # noqa: BLE001 - the window must hear of it, the key must not
            _log.error(
                "the run failed unexpectedly:\n%s",
                scrubbed("".join(traceback.format_exception(exc)), secret),
            )
            return RunResult(
                outcome="stopped",
                message=f"The run stopped because of an unexpected error ({type(exc).__name__}).",
            )


def start_run(pool: TaskPool, job: RunJob, progress: Callable[[object], None]) -> RunTask:
    """Start *job* on *pool*; every event, then the :class:`RunResult`, goes to *progress*.

    *progress* must be a ``@Slot(object)`` method of a GUI-thread QObject. The run is over when
    the task's ``finished`` signal (or, for a pool that runs only runs, its ``idle``) comes.
    """
    task = RunTask(job)
    task.signals.progress.connect(progress)
    pool.start(task)
    return task
