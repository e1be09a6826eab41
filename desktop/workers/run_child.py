"""The child process a window's run happens in.

Started as ``python -m desktop.workers.run_child``, or as ``embed-studio _run-child`` from a
frozen app (where there is no separate Python to run ``-m`` with).

It reads one job line on stdin, runs :class:`~desktop.core.runner.Runner` against its own store
connection, and writes every event, then the result, as JSON lines on stdout. A line "cancel" on
stdin, or stdin closing (the window went away), cancels the run after the requests in flight;
what they bring back is still stored.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import BinaryIO

from desktop.core.runner import Event, Runner, RunResult
from desktop.core.store import Store, StoreError
from desktop.workers.run_wire import event_to_line, job_from_json

CANCEL = b"cancel"
#: The hidden command by which a frozen app starts itself as a run's child process.
RUN_CHILD_COMMAND = "_run-child"


def _watch_for_cancel(stdin: BinaryIO, runner: Runner) -> None:
    for line in stdin:
        if line.strip() == CANCEL:
            break
    runner.cancel()


def main() -> int:
    """Run one job from stdin; the exit status is 0 unless the job could not be read."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        config, items, store_path = job_from_json(stdin.readline())
    except (ValueError, KeyError, TypeError):
        print("embed-studio: the run's job could not be read", file=sys.stderr)
        return 2
    lock = threading.Lock()

    def emit(event: Event | RunResult) -> None:
        with lock:
            stdout.write(event_to_line(event))
            stdout.flush()

    try:
        with Store(store_path) as store:
            runner = Runner(config, store, emit)
            threading.Thread(
                target=_watch_for_cancel, args=(stdin, runner), name="cancel", daemon=True
            ).start()
            result = runner.run(items)
    except StoreError as exc:
        result = RunResult(outcome="stopped", message=f"The result store cannot be used: {exc}")
    emit(result)
    return 0


def run_and_exit() -> None:
    """Run one job, then leave at once (never returns)."""
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave without finalising the interpreter: the thread waiting on stdin for "cancel" holds
    # stdin's lock, and finalisation would abort on it. Everything is flushed and stored.
    os._exit(status)


if __name__ == "__main__":
    run_and_exit()
