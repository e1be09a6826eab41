"""Read what a user adds: walk folders, then probe every file, reporting as it goes.

The work runs on a worker thread and says two kinds of things, both plain data: first the whole
list of files found (:class:`Collected`, at once, so the window can show a placeholder for each of
thousands of files before any is read), then the probes in chunks (:class:`ProbeChunk`), so the
window applies a few dozen results at a time instead of one signal per file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from desktop.core.images import Probe, Skipped, collect_paths, probe_many
from desktop.workers.tasks import Report, Work

#: A chunk of probes is reported once it holds this many ...
CHUNK_PROBES: Final = 50
#: ... or once this long has passed since the last report, whichever comes first.
CHUNK_SECONDS: Final = 0.1


@dataclass(frozen=True, slots=True)
class Collected:
    """The files found under what was added (reported once, before any probe).

    Attributes:
        batch: the token the caller gave this piece of reading.
        files: every file to probe, in walking order.
        skipped: what the walk left out and why (hidden files, non-images in folders ...).
    """

    batch: int
    files: list[str]
    skipped: list[Skipped]


@dataclass(frozen=True, slots=True)
class ProbeChunk:
    """Probes of consecutive files, in the order of :attr:`Collected.files`.

    Attributes:
        batch: the token the caller gave this piece of reading.
        probes: ``(path, probe)`` pairs.
    """

    batch: int
    probes: list[tuple[str, Probe]]


def reading_work(
    paths: Sequence[str],
    batch: int,
    chunk_probes: int = CHUNK_PROBES,
    chunk_seconds: float = CHUNK_SECONDS,
    max_workers: int | None = None,
) -> Work:
    """The work of reading *paths* (files and folders), for a :class:`~desktop.workers.tasks.Task`.

    It reports one :class:`Collected`, then :class:`ProbeChunk` s, and returns how many files
    were probed. The cancel flag is honoured between files; closing the probe generator then
    waits only for the few files already being read.
    """
    wanted = list(paths)

    def work(report: Report, cancelled: threading.Event) -> int:
        collected = collect_paths(wanted)
        if cancelled.is_set():
            return 0
        report(Collected(batch, list(collected.files), list(collected.skipped)))
        chunk: list[tuple[str, Probe]] = []
        last = time.monotonic()
        done = 0
        probes = probe_many(collected.files, max_workers)
        try:
            for probe in probes:
                if cancelled.is_set():
                    break
                chunk.append((probe.path, probe))
                done += 1
                now = time.monotonic()
                if len(chunk) >= chunk_probes or now - last >= chunk_seconds:
                    report(ProbeChunk(batch, chunk))
                    chunk, last = [], now
        finally:
            probes.close()
        if chunk and not cancelled.is_set():
            report(ProbeChunk(batch, chunk))
        return done

    return work
