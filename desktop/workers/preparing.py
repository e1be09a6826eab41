"""Work out what will be sent for images the settings make the app transform.

The work prepares each image exactly as a run would (:func:`~desktop.core.prepare.prepare`) and
reports a small summary (:class:`~desktop.core.assess.Sent`: size, type, sha256) or the reason it
cannot be sent, as a :class:`~desktop.core.rules.Finding`. The prepared bytes are dropped at
once: a run prepares again, so thousands of images never sit in memory here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from desktop.core.assess import Sent
from desktop.core.images import Probe
from desktop.core.models import Settings
from desktop.core.prepare import PrepareError, prepare
from desktop.core.rules import Finding, Severity, resamples
from desktop.workers.tasks import Report, Work

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What preparing one image found.

    Attributes:
        path: the item's path (its stable identity; indices shift when items are removed).
        key: the settings key it was prepared under (whether large images are shrunk).
        outcome: what will be sent, or why nothing can be.
        source_sha256: the sha256 of the file as probed (to tell whether a result still
            belongs to the item of that path).
    """

    path: str
    key: bool
    outcome: Sent | Finding
    source_sha256: str | None = None


def prepare_one(probe: Probe, settings: Settings) -> Sent | Finding:
    """What will be sent for *probe* under *settings*, or the error finding saying why not."""
    try:
        return Sent.of(prepare(probe, settings))
    except PrepareError as error:
        return Finding(error.code, Severity.ERROR, str(error))
    except MemoryError:
        return Finding("unreadable", Severity.ERROR, "There is not enough memory for this image.")
    except Exception:  # noqa: BLE001 - a bug, not bad input: keep the other images going
        _log.exception("preparing %s failed unexpectedly", probe.path)
        return Finding(
            "unreadable",
            Severity.ERROR,
            "The app failed to prepare this image (an internal error).",
        )


def preparing_work(jobs: Sequence[tuple[str, Probe]], settings: Settings) -> Work:
    """The work of preparing *jobs* (``(path, probe)`` pairs) under *settings*.

    It reports one :class:`Prepared` per image, in order, checking the cancel flag between
    images, and returns how many it prepared.
    """
    todo = list(jobs)
    key = resamples(settings)

    def work(report: Report, cancelled: threading.Event) -> int:
        done = 0
        for path, probe in todo:
            if cancelled.is_set():
                break
            report(Prepared(path, key, prepare_one(probe, settings), probe.sha256))
            done += 1
        return done

    return work
