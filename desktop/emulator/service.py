"""The emulated API behind the HTTP layer: route a request, decide the answer, keep the books.

:meth:`Service.handle` returns a :class:`Decision` (a reply to send, or a connection to drop, and
how long to wait first); the HTTP layer carries it out. For ``POST /v2/embed`` the order is:
body size (a gateway check, before anything else), key, billing and permission switches, the
judgement of the body, then the fault for this request, the images-per-minute limit, and the
answer.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from desktop.core.models import MAX_BODY_BYTES
from desktop.emulator.auth import authorise
from desktop.emulator.faults import REPLACING_FAULTS, Fault, FaultKind, FaultPlan
from desktop.emulator.judge import EmbedJob, judge_embed
from desktop.emulator.ledger import Ledger, Outcome, RequestRecord
from desktop.emulator.refusal import Refusal, error_body, invalid
from desktop.emulator.response import (
    cut_short,
    dump,
    embed_payload,
    key_check_payload,
    with_vector_count_off,
)

EMBED_PATH: Final = "/v2/embed"
CHECK_KEY_PATH: Final = "/v1/check-api-key"

PAYMENT_MESSAGE: Final = (
    "Please add or update your payment method at "
    "https://dashboard.cohere.com/billing?tab=payment to continue"
)
FORBIDDEN_MESSAGE: Final = "this API key is not allowed to use this endpoint"
THROTTLE_MESSAGE: Final = (
    "You are past the per minute request limit, please wait and try again later."
)
SERVER_ERROR_MESSAGES: Final = {
    500: "internal server error, please try again later",
    502: "bad gateway, please try again later",
    503: "service unavailable, please try again later",
}

_log = logging.getLogger("desktop.emulator")


@dataclass(frozen=True, slots=True)
class Reply:
    """A response to send: status, JSON body, extra headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Drop:
    """Send nothing and close the connection, after holding it up to *hold_seconds*."""

    hold_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a request, and how long to wait before doing it."""

    action: Reply | Drop
    delay_seconds: float = 0.0


def body_too_large(size: int) -> Refusal:
    """The refusal of a body over the 20 MB limit.

    No documented answer exists; a gateway might send 413, but the emulator uses 400 with a
    plain message, which is what the app must show either way.
    """
    return invalid(
        f"the request body is {size} bytes; the maximum size of a request is "
        f"{MAX_BODY_BYTES} bytes (20 MB)"
    )


class Service:
    """Routes and answers requests; safe to call from many threads at once.

    Attributes:
        faults: the fault plan consulted for every embed request.
        ledger: the record of every request.
        valid_keys: the accepted keys, or ``None`` to accept any non-empty key.
    """

    def __init__(
        self, faults: FaultPlan, ledger: Ledger, valid_keys: Collection[str] | None = None
    ) -> None:
        self.faults = faults
        self.ledger = ledger
        self.valid_keys: frozenset[str] | None = (
            None if valid_keys is None else frozenset(valid_keys)
        )

    def handle(
        self, method: str, path: str, authorization: str | None, body: bytes, received_at: float
    ) -> Decision:
        """Decide the answer to one request whose headers were read at *received_at*."""
        path = path.split("?", 1)[0]
        books = _Books(self.ledger, received_at, method, path)
        if method == "POST" and path == EMBED_PATH:
            return self._embed(books, authorization, body)
        if method == "POST" and path == CHECK_KEY_PATH:
            try:
                key = authorise(authorization, self.valid_keys)
            except Refusal as refusal:
                return books.refuse(refusal)
            return books.reply(Reply(200, dump(key_check_payload(key))), Outcome.OK)
        return books.refuse(Refusal(404, f"no route for {method} {path}"))

    def _embed(self, books: _Books, authorization: str | None, body: bytes) -> Decision:
        settings = self.faults.settings
        try:
            if len(body) > MAX_BODY_BYTES:
                raise body_too_large(len(body))
            authorise(authorization, self.valid_keys)
            if settings.payment_required:
                raise Refusal(402, PAYMENT_MESSAGE)
            if settings.forbidden:
                raise Refusal(403, FORBIDDEN_MESSAGE)
        except Refusal as refusal:
            return books.refuse(refusal, delay=self.faults.delay_seconds(0))
        job: EmbedJob | Refusal
        try:
            job = judge_embed(body)
        except Refusal as refusal:
            job = refusal
        books.job = job if isinstance(job, EmbedJob) else None
        fault = self.faults.next_fault()
        delay = self.faults.delay_seconds(len(books.job.images) if books.job else 0)
        if fault is not None and fault.kind in REPLACING_FAULTS:
            return self._replace(books, fault, delay)
        if isinstance(job, Refusal):
            return books.refuse(job, delay=delay)
        # The clock is read here, not at receipt, so the window stays in time order.
        wait = self.faults.admit(len(job.images), time.monotonic())
        if wait is not None:
            limit = self.faults.settings.images_per_minute
            message = (
                f"You are past the limit of {limit} images per minute, please wait and try "
                "again later."
            )
            reply = Reply(429, error_body(message), (("Retry-After", str(wait)),))
            return books.reply(reply, Outcome.RATE_LIMITED, message=message, delay=delay)
        payload = embed_payload(job, str(uuid.uuid4()))
        outcome = Outcome.OK
        if fault is not None and fault.kind is FaultKind.WRONG_COUNT:
            payload = with_vector_count_off(payload, fault.extra_vectors)
            outcome = Outcome.WRONG_COUNT
        answer = dump(payload)
        if fault is not None and fault.kind is FaultKind.MALFORMED_JSON:
            answer = cut_short(answer)
            outcome = Outcome.MALFORMED_JSON
        return books.reply(Reply(200, answer), outcome, billed=True, delay=delay)

    def _replace(self, books: _Books, fault: Fault, delay: float) -> Decision:
        if fault.kind is FaultKind.THROTTLE:
            reply = Reply(
                429, error_body(THROTTLE_MESSAGE), (("Retry-After", str(fault.retry_after)),)
            )
            return books.reply(reply, Outcome.THROTTLED, message=THROTTLE_MESSAGE, delay=delay)
        if fault.kind is FaultKind.SERVER_ERROR:
            message = SERVER_ERROR_MESSAGES.get(
                fault.status, "server error, please try again later"
            )
            reply = Reply(fault.status, error_body(message))
            return books.reply(reply, Outcome.SERVER_ERROR, message=message, delay=delay)
        if fault.kind is FaultKind.TIMEOUT:
            books.record(None, Outcome.TIMEOUT)
            return Decision(Drop(self.faults.settings.hold_seconds), delay)
        books.record(None, Outcome.DISCONNECTED)
        return Decision(Drop(0.0), delay)


class _Books:
    """Records one request's outcome in the ledger and the log as its answer is decided."""

    def __init__(self, ledger: Ledger, received_at: float, method: str, path: str) -> None:
        self.ledger = ledger
        self.received_at = received_at
        self.method = method
        self.path = path
        self.job: EmbedJob | None = None

    def record(
        self,
        status: int | None,
        outcome: Outcome,
        *,
        message: str = "",
        billed: bool = False,
        retry_after: int | None = None,
    ) -> None:
        images = self.job.images if self.job else ()
        self.ledger.add(
            RequestRecord(
                received_at=self.received_at,
                method=self.method,
                path=self.path,
                status=status,
                outcome=outcome,
                images=len(images),
                image_sha256=tuple(image.sha256 for image in images),
                billed_images=len(images) if billed else 0,
                message=message,
                retry_after=retry_after,
            )
        )
        _log.info(
            "%s %s -> %s %s (%d images)",
            self.method,
            self.path,
            status if status is not None else "no response",
            outcome.value,
            len(images),
        )

    def reply(
        self,
        reply: Reply,
        outcome: Outcome,
        *,
        message: str = "",
        billed: bool = False,
        delay: float = 0.0,
    ) -> Decision:
        retry_after = next((int(v) for k, v in reply.headers if k == "Retry-After"), None)
        self.record(reply.status, outcome, message=message, billed=billed, retry_after=retry_after)
        return Decision(reply, delay)

    def refuse(self, refusal: Refusal, *, delay: float = 0.0) -> Decision:
        reply = Reply(refusal.status, error_body(refusal.message))
        return self.reply(reply, Outcome.REFUSED, message=refusal.message, delay=delay)
