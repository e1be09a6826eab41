""" "Try it offline": the built-in emulator, started inside the app, as a stand-in for Cohere.

The emulator listens on a loopback address only, answers like the Embed API with made-up
(deterministic) vectors, and bills nothing. Every run against it is labelled emulated: the
runner recognises the emulator by a header of its answers.

The store keys vectors by endpoint (base URL, port included). So that vectors made offline are
found again on the next start, the emulator always tries the same port first
(:data:`PREFERRED_PORT`); only when another program holds that port does it take a free one,
and vectors made then are filed under that other address.
"""

from __future__ import annotations

import logging
from typing import Final

from desktop.core.endpoint import Endpoint, parse_endpoint
from desktop.emulator import Emulator, FaultSettings
from desktop.emulator.faults import FaultPlan

#: The port the offline emulator tries first (its stable identity in the store).
PREFERRED_PORT: Final = 47123
#: The key runs against the offline emulator use (it accepts any key; this one is not secret).
OFFLINE_KEY: Final = "offline-demo-key"
#: A short delay per answer, so progress looks as it would with the real API.
OFFLINE_LATENCY_MS: Final = 150.0
#: A further delay per image of a request.
OFFLINE_PER_IMAGE_MS: Final = 5.0

_log = logging.getLogger(__name__)


class OfflineService:
    """The built-in emulator, started and stopped by the app.

    Attributes:
        preferred_port: the port tried first.
        key: the key to send to it (:data:`OFFLINE_KEY`).
    """

    def __init__(
        self,
        preferred_port: int = PREFERRED_PORT,
        *,
        latency_ms: float = OFFLINE_LATENCY_MS,
        per_image_ms: float = OFFLINE_PER_IMAGE_MS,
    ) -> None:
        self.preferred_port = preferred_port
        self.key = OFFLINE_KEY
        self._faults = FaultSettings(latency_ms=latency_ms, per_image_ms=per_image_ms)
        self._emulator: Emulator | None = None

    @property
    def running(self) -> bool:
        """Whether the emulator is serving."""
        return self._emulator is not None

    @property
    def emulator(self) -> Emulator | None:
        """The emulator while it runs (its ledger shows what was sent)."""
        return self._emulator

    def start(self) -> Endpoint:
        """Start the emulator (once; later calls return the same address).

        Raises:
            OSError: no loopback port could be bound at all.
        """
        if self._emulator is None:
            self._emulator = self._bind(self.preferred_port) or self._bind(0)
            if self._emulator is None:
                raise OSError("The built-in emulator could not listen on any local port.")
            if self.preferred_port and self._emulator.port != self.preferred_port:
                _log.warning(
                    "port %d is taken; the offline emulator listens on %d, so vectors made "
                    "offline before are not found this time",
                    self.preferred_port,
                    self._emulator.port,
                )
        return self.endpoint

    def _bind(self, port: int) -> Emulator | None:
        emulator = Emulator(faults=FaultPlan(self._faults), port=port)
        try:
            return emulator.start()
        except OSError:
            return None

    @property
    def endpoint(self) -> Endpoint:
        """The emulator's base URL, validated.

        Raises:
            RuntimeError: the emulator is not running.
        """
        if self._emulator is None:
            raise RuntimeError("the offline emulator is not running")
        return parse_endpoint(self._emulator.base_url)

    @property
    def on_preferred_port(self) -> bool:
        """Whether it listens on its usual port (so earlier offline vectors are found)."""
        return self._emulator is not None and self._emulator.port == self.preferred_port

    def stop(self) -> None:
        """Stop serving and release the port (at exit, or when leaving offline mode)."""
        emulator, self._emulator = self._emulator, None
        if emulator is not None:
            emulator.close()
