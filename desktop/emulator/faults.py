"""What goes wrong, and when: the emulator's fault plan.

A :class:`FaultPlan` holds settings (latency, failure probabilities, an images-per-minute limit,
billing and permission switches) and a queue of one-shot faults. Tests change either at run time
from any thread. Faults apply to ``/v2/embed`` only, so checking a key never uses one up.

Each embed request takes at most one fault: the next queued one if any, otherwise a seeded
random draw against ``fail_rate`` and ``throttle_rate``, then (each only when not zero, so the
draws of a seed that uses none of them stay the same) ``timeout_rate``, ``disconnect_rate``
and ``malformed_rate``.
"""

from __future__ import annotations

import math
import random
import threading
from collections import deque
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

#: The 5xx statuses a random failure picks from.
SERVER_ERROR_STATUSES: Final = (500, 502, 503)


class FaultKind(StrEnum):
    """The kinds of trouble the emulator can make."""

    #: 429 with a ``Retry-After`` header.
    THROTTLE = "throttle"
    #: A 5xx status with a JSON error body.
    SERVER_ERROR = "server_error"
    #: Hold the request until the client gives up (or ``hold_seconds``), then drop it unanswered.
    TIMEOUT = "timeout"
    #: Close the connection at once without a response.
    DISCONNECT = "disconnect"
    #: A 200 whose body is cut short, so it is not valid JSON.
    MALFORMED_JSON = "malformed_json"
    #: A 200 with a different number of vectors than inputs.
    WRONG_COUNT = "wrong_count"


#: Faults that replace the answer whatever the request held; the others spoil a success only.
REPLACING_FAULTS: Final = frozenset(
    {FaultKind.THROTTLE, FaultKind.SERVER_ERROR, FaultKind.TIMEOUT, FaultKind.DISCONNECT}
)


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault to inject.

    Attributes:
        kind: what goes wrong.
        status: the 5xx status for ``SERVER_ERROR``.
        retry_after: seconds sent in ``Retry-After`` for ``THROTTLE``.
        extra_vectors: for ``WRONG_COUNT``, vectors added (positive) or removed (negative).
    """

    kind: FaultKind
    status: int = 503
    retry_after: int = 1
    extra_vectors: int = -1

    def __post_init__(self) -> None:
        if self.kind is FaultKind.SERVER_ERROR and not 500 <= self.status <= 599:
            raise ValueError(f"a server error needs a 5xx status, not {self.status}")
        if self.retry_after < 0:
            raise ValueError("retry_after cannot be negative")
        if self.kind is FaultKind.WRONG_COUNT and self.extra_vectors == 0:
            raise ValueError("a wrong count needs a non-zero extra_vectors")


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """Standing settings of a fault plan (replace them with :meth:`FaultPlan.update`).

    Attributes:
        latency_ms: delay before every embed answer.
        per_image_ms: further delay per image in the request.
        fail_rate: probability that a request gets a random 5xx.
        throttle_rate: probability that a request gets a 429.
        timeout_rate: probability that a request is held unanswered (``TIMEOUT``).
        disconnect_rate: probability that a request's connection is closed unanswered.
        malformed_rate: probability that a request's answer, billed, is cut short
            (``MALFORMED_JSON``): the work is done and paid for, but the client cannot use it.
        retry_after: seconds sent in ``Retry-After`` for random 429s.
        images_per_minute: the rate limit on embedded images (``None`` for no limit).
        window_seconds: the length of the sliding window of that limit (60 unless testing).
        hold_seconds: the longest a ``TIMEOUT`` fault holds a request.
        payment_required: answer every embed request with 402.
        forbidden: answer every embed request with 403.
        seed: seed of the random draws (``None`` for an unseeded generator).
    """

    latency_ms: float = 0.0
    per_image_ms: float = 0.0
    fail_rate: float = 0.0
    throttle_rate: float = 0.0
    timeout_rate: float = 0.0
    disconnect_rate: float = 0.0
    malformed_rate: float = 0.0
    retry_after: int = 1
    images_per_minute: int | None = None
    window_seconds: float = 60.0
    hold_seconds: float = 30.0
    payment_required: bool = False
    forbidden: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.per_image_ms < 0:
            raise ValueError("latency cannot be negative")
        rates = (
            ("fail_rate", self.fail_rate),
            ("throttle_rate", self.throttle_rate),
            ("timeout_rate", self.timeout_rate),
            ("disconnect_rate", self.disconnect_rate),
            ("malformed_rate", self.malformed_rate),
        )
        for name, rate in rates:
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate}")
        if self.retry_after < 0:
            raise ValueError("retry_after cannot be negative")
        if self.images_per_minute is not None and self.images_per_minute < 1:
            raise ValueError("images_per_minute must be at least 1")
        if self.window_seconds <= 0 or self.hold_seconds < 0:
            raise ValueError("window_seconds must be positive and hold_seconds not negative")


class FaultPlan:
    """Thread-safe fault settings, a queue of one-shot faults, and the rate-limit window."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self._settings = settings or FaultSettings()
        self._rng = random.Random(self._settings.seed)
        self._queue: deque[Fault] = deque()
        self._window: deque[tuple[float, int]] = deque()

    @property
    def settings(self) -> FaultSettings:
        """The current settings (an immutable snapshot)."""
        with self._lock:
            return self._settings

    def update(self, **changes: float | int | bool | None) -> FaultSettings:
        """Change some settings; a new ``seed`` also reseeds the random draws."""
        with self._lock:
            self._settings = replace(self._settings, **changes)  # type: ignore[arg-type]
            if "seed" in changes:
                self._rng.seed(self._settings.seed)
            return self._settings

    def queue(self, fault: Fault | FaultKind, count: int = 1) -> None:
        """Make the next *count* embed requests (after any already queued) get *fault*."""
        item = fault if isinstance(fault, Fault) else Fault(fault)
        with self._lock:
            self._queue.extend([item] * count)

    def clear(self) -> None:
        """Drop queued faults and forget the rate-limit window."""
        with self._lock:
            self._queue.clear()
            self._window.clear()

    @property
    def queued(self) -> int:
        """How many one-shot faults are still waiting."""
        with self._lock:
            return len(self._queue)

    def next_fault(self) -> Fault | None:
        """The fault for the request being handled now, if any (consumes a queued one)."""
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            settings = self._settings
            if settings.fail_rate and self._rng.random() < settings.fail_rate:
                status = self._rng.choice(SERVER_ERROR_STATUSES)
                return Fault(FaultKind.SERVER_ERROR, status=status)
            if settings.throttle_rate and self._rng.random() < settings.throttle_rate:
                return Fault(FaultKind.THROTTLE, retry_after=settings.retry_after)
            for rate, kind in (
                (settings.timeout_rate, FaultKind.TIMEOUT),
                (settings.disconnect_rate, FaultKind.DISCONNECT),
                (settings.malformed_rate, FaultKind.MALFORMED_JSON),
            ):
                if rate and self._rng.random() < rate:
                    return Fault(kind)
            return None

    def admit(self, images: int, now: float) -> int | None:
        """Count *images* against the per-minute limit at time *now* (monotonic seconds).

        Returns ``None`` when admitted (and counted), else the whole seconds to wait before the
        same request would fit.
        """
        with self._lock:
            limit = self._settings.images_per_minute
            window = self._settings.window_seconds
            if limit is None or images == 0:
                return None
            while self._window and self._window[0][0] <= now - window:
                self._window.popleft()
            used = sum(count for _, count in self._window)
            if used + images <= limit:
                self._window.append((now, images))
                return None
            if images > limit:
                return max(1, math.ceil(window))
            freed = 0
            for stamp, count in self._window:
                freed += count
                if used - freed + images <= limit:
                    return max(1, math.ceil(stamp + window - now))
            return max(1, math.ceil(window))  # unreachable while images <= limit

    def delay_seconds(self, images: int) -> float:
        """How long to wait before answering a request with *images* images."""
        settings = self.settings
        return (settings.latency_ms + settings.per_image_ms * images) / 1000.0
