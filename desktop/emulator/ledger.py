"""A thread-safe record of every request the emulator saw, and of what it billed.

Billing follows what a real server would charge for: every 200 it sent, including one whose body
was then spoiled by a ``MALFORMED_JSON`` or ``WRONG_COUNT`` fault (the work was done). Requests
that were refused, throttled, dropped or failed are not billed.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """What the emulator did with a request."""

    OK = "ok"
    REFUSED = "refused"
    THROTTLED = "throttled"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    DISCONNECTED = "disconnected"
    MALFORMED_JSON = "malformed_json"
    WRONG_COUNT = "wrong_count"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the emulator saw it.

    Attributes:
        received_at: ``time.monotonic()`` when its headers had been read.
        method: the HTTP method.
        path: the path, without the query string.
        status: the status sent, or ``None`` when no response was sent.
        outcome: what the emulator did.
        images: how many images the request held (0 when its body could not be judged).
        image_sha256: hex SHA-256 of each image's bytes, in request order.
        billed_images: images billed for this request.
        message: the error message sent, if any.
        retry_after: the ``Retry-After`` seconds sent with a 429, if any.
    """

    received_at: float
    method: str
    path: str
    status: int | None
    outcome: Outcome
    images: int = 0
    image_sha256: tuple[str, ...] = ()
    billed_images: int = 0
    message: str = ""
    retry_after: int | None = None


class Ledger:
    """Every :class:`RequestRecord`, in the order the answers were decided."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._billed: Counter[str] = Counter()

    def add(self, record: RequestRecord) -> None:
        """Append *record* and count its billed images."""
        with self._lock:
            self._records.append(record)
            if record.billed_images:
                self._billed.update(record.image_sha256)

    def records(self) -> list[RequestRecord]:
        """A copy of the records so far."""
        with self._lock:
            return list(self._records)

    @property
    def billed_images(self) -> int:
        """Images billed so far."""
        with self._lock:
            return sum(self._billed.values())

    def billed_by_sha256(self) -> dict[str, int]:
        """How many times each image (by hex SHA-256 of its bytes) was billed."""
        with self._lock:
            return dict(self._billed)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()
            self._billed.clear()
