"""The one way a request is turned down: a status code and a message the client will read."""

from __future__ import annotations

import uuid

import orjson


class Refusal(Exception):
    """A request the emulator turns down, carrying the status and message the client will see."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def invalid(detail: str) -> Refusal:
    """A 400 worded like the API's own validation errors (``invalid request: ...``)."""
    return Refusal(400, f"invalid request: {detail}")


def error_body(message: str) -> bytes:
    """The JSON body every refusal carries: ``{"message": ..., "id": ...}``."""
    return orjson.dumps({"message": message, "id": str(uuid.uuid4())})
