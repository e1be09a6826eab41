"""A Cohere-compatible local server for trying the app and testing it without a network.

It judges ``POST /v2/embed`` requests as the real API would (a second opinion, independent of
the app's own rules), answers with deterministic vectors traceable to the images sent, injects
faults on demand, and records every request. It is a service beside the app: ``desktop.core``
never imports it.

Where the API documentation is silent, the emulator chooses (and the app must cope with the
real answer being different):

- a body over 20,000,000 bytes gets 400 with a plain message (a gateway might send 413);
- a retired model gets 404; an image part inside ``inputs`` for a v3 model gets 400 (v3 takes
  images only through ``images``);
- ``/v1/check-api-key`` with an unknown key gets 401 ``invalid api token`` (not
  ``{"valid": false}``);
- an image declaring more than ``DECOMPRESSION_BOMB_PIXELS`` is refused before decoding;
- ``image_tokens`` is ``ceil(pixels seen / 163)`` (see :mod:`desktop.emulator.behaviour`);
- ``binary`` is ``ubinary - 128`` (see :mod:`desktop.emulator.vectors`);
- a 200 later spoiled by a fault is still billed (see :mod:`desktop.emulator.ledger`).
"""

from desktop.emulator.faults import Fault, FaultKind, FaultPlan, FaultSettings
from desktop.emulator.ledger import Outcome, RequestRecord
from desktop.emulator.server import Emulator, loopback_host
from desktop.emulator.vectors import expected_vector

__all__ = [
    "Emulator",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FaultSettings",
    "Outcome",
    "RequestRecord",
    "expected_vector",
    "loopback_host",
]
