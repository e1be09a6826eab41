"""Run :class:`~desktop.core.runner.Runner` in a child process, its events arriving as Qt signals.

A :class:`RunTask` opens its own :class:`~desktop.core.store.Store` in the worker from a plain
path, runs the runner there, and forwards every runner event, unchanged (plain frozen
dataclasses), through the task's ``progress`` signal. Before the run it reports the images
whose vectors are already stored (:class:`AlreadyEmbedded`), and last of all the
:class:`~desktop.core.runner.RunResult` itself, cancelled or not, so the window always hears
how a run ended. Cancelling the task cancels the runner at once.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop.core.keys import key_problem, scrubbed
from desktop.core.runner import RunConfig, RunItem, RunResult
from desktop.core.store import Store, StoreError, VectorKey
from desktop.workers.run_child import CANCEL, RUN_CHILD_COMMAND
from desktop.workers.run_wire import event_from_line, job_to_json
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


def child_command() -> list[str]:
    """How to start the child process a run happens in (a frozen app runs itself)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, RUN_CHILD_COMMAND]
    return [sys.executable, "-m", "desktop.workers.run_child"]


class RunTask(Task):
    """One run, in a child process; :meth:`cancel` reaches it at once.

    The SDK holds the interpreter lock while it parses each answer (up to a few hundred
    milliseconds for 96 vectors); in a child process that cannot freeze the window.
    """

    def __init__(self, job: RunJob) -> None:
        super().__init__(self._execute, name="embed run")
        self._job = job
        self._child_lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None

    def cancel(self) -> None:
        """Stop after the requests in flight; their vectors are still stored."""
        with self._child_lock:
            super().cancel()
            child = self._child
        if child is not None:
            _tell(child, CANCEL)

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
        except StoreError as exc:
            return RunResult(outcome="stopped", message=f"The result store cannot be used: {exc}")
        with subprocess.Popen(
            child_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as child:
            with self._child_lock:
                self._child = child
            errors: list[bytes] = []
            drain = threading.Thread(target=_drain, args=(child, errors), name="run-stderr")
            drain.start()
            try:
                _tell(child, job_to_json(job.config, job.items, job.store_path).rstrip(b"\n"))
                if cancelled.is_set():
                    _tell(child, CANCEL)
                result = self._follow(child, report)
            finally:
                with self._child_lock:
                    self._child = None
                if child.stdin is not None:
                    child.stdin.close()
                child.wait()
                drain.join()
        return result or _failed(child, errors, secret)

    @staticmethod
    def _follow(child: subprocess.Popen[bytes], report: Report) -> RunResult | None:
        """Pass the child's events on; its result, or ``None`` if it ended without one."""
        assert child.stdout is not None
        for line in child.stdout:
            try:
                event = event_from_line(line)
            except ValueError:
                continue
            if isinstance(event, RunResult):
                return event
            report(event)
        return None


def _tell(child: subprocess.Popen[bytes], line: bytes) -> None:
    """Write one line to the child (it may already have ended)."""
    try:
        assert child.stdin is not None
        child.stdin.write(line + b"\n")
        child.stdin.flush()
    except (BrokenPipeError, ValueError, OSError):
        pass


def _drain(child: subprocess.Popen[bytes], errors: list[bytes]) -> None:
    assert child.stderr is not None
    errors.append(child.stderr.read())


def _failed(child: subprocess.Popen[bytes], errors: list[bytes], secret: str) -> RunResult:
    """The result of a child that ended without saying how the run went."""
    child.wait()
    said = b"".join(errors).decode("utf-8", "replace")
    if said:
        _log.error("the run's process failed:\n%s", scrubbed(said, secret))
    return RunResult(
        outcome="stopped",
        message=f"The run stopped unexpectedly (its process ended with status {child.returncode}).",
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
