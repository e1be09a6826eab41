"""Keep a run within the key's images-per-minute limit."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final

#: The window a per-minute limit is counted over.
WINDOW_SECONDS: Final = 60.0


def paced_seconds(images: int, images_per_minute: int) -> float:
    """How long sending *images* takes at *images_per_minute*, from a quiet start.

    A minute's allowance goes at once, the next allowance a minute later, and so on.
    """
    if images <= 0:
        return 0.0
    per_minute = max(1, images_per_minute)
    return (math.ceil(images / per_minute) - 1) * WINDOW_SECONDS


class Pacer:
    """A sliding window: no more than the limit's images in any 60 seconds.

    This never asks the server for more than it allows, whether it counts in fixed minutes, a
    sliding window or a token bucket. Several sender threads share one pacer; :meth:`acquire`
    waits until *n* images may go and returns early (``False``) when the run is cancelled.
    """

    def __init__(
        self,
        images_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = max(1, images_per_minute)
        self._clock = clock
        self._sent: deque[tuple[float, int]] = deque()
        self._in_window = 0
        self._lock = threading.Lock()

    def _forget_old(self, now: float) -> None:
        while self._sent and self._sent[0][0] <= now - WINDOW_SECONDS:
            self._in_window -= self._sent.popleft()[1]

    def _delay(self, n: int, now: float) -> float:
        """Seconds until *n* images fit in the window (0 when they fit now)."""
        self._forget_old(now)
        excess = self._in_window + n - self.capacity
        if excess <= 0:
            return 0.0
        for stamp, count in self._sent:
            excess -= count
            if excess <= 0:
                return stamp + WINDOW_SECONDS - now
        return WINDOW_SECONDS

    def acquire(self, n: int, cancelled: threading.Event) -> bool:
        """Wait until *n* images may go and count them; ``False`` if cancelled meanwhile."""
        n = min(n, self.capacity)
        while True:
            with self._lock:
                now = self._clock()
                delay = self._delay(n, now)
                if delay <= 0:
                    self._sent.append((now, n))
                    self._in_window += n
                    return True
            if cancelled.wait(delay):
                return False

    def wait_time(self, n: int) -> float:
        """Seconds until *n* more images will have gone at this pace."""
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            if n <= 0:
                return 0.0
            return self._delay(min(n, self.capacity), now) + paced_seconds(n, self.capacity)

    def seconds_for(self, images: int) -> float:
        """How long *images* take from a quiet start at this pace."""
        return paced_seconds(images, self.capacity)
