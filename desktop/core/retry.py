"""What to do when a request fails: retry, split the batch, or stop, in plain words.

One policy for the whole app (the SDK's own retries are turned off): retry 429, 408, 409, 5xx,
broken connections and timeouts with capped exponential backoff and jitter, honouring
``Retry-After``; never retry 400/401/402/403/404/422. A 400 or 422 on a batch is split to find the
image the server refuses; 401/402/403/404 stop the run, since every further request would fail
the same way.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

import httpx
from cohere.core.api_error import ApiError

from desktop.core.keys import scrubbed

#: The longest single wait between attempts.
BACKOFF_CAP_SECONDS: Final = 60.0
#: The first backoff step (doubled on every further attempt).
BACKOFF_BASE_SECONDS: Final = 1.0
_MAX_SERVER_MESSAGE: Final = 400


class Verdict(StrEnum):
    """What the runner does after a failure."""

    RETRY = "retry"
    SPLIT = "split"
    STOP = "stop"


class BadResponse(Exception):
    """A 200 answer that cannot be trusted (wrong vector count, missing fields)."""


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed attempt, judged.

    Attributes:
        verdict: retry, split the batch, or stop the run.
        status: the HTTP status, or ``None`` for network errors and bad answers.
        message: what happened, in plain words, with the server's own message.
        retry_after: seconds the server asked us to wait, if it said.
    """

    verdict: Verdict
    status: int | None
    message: str
    retry_after: float | None = None


def server_message(body: Any, secret: str = "") -> str:
    """The server's own words from an error body (``{"message": ...}`` or plain text).

    *secret* (the API key) is masked wherever the words quote it, before they are cut to
    length, so not even part of it is left: a proxy or a misconfigured server may echo the
    request's headers in its error.
    """
    if isinstance(body, Mapping):
        text = body.get("message")
        if not (isinstance(text, str) and text):
            text = str(dict(body))
    else:
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        text = str(body or "").strip() or "(no message)"
    return scrubbed(text, secret)[:_MAX_SERVER_MESSAGE]


def retry_after_seconds(
    headers: Mapping[str, str] | None, now: float | None = None
) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lower:
        try:
            return max(0.0, float(lower["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lower.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


_STOP_WORDS: Final = {
    401: "The API key was refused",
    402: "Cohere refused the request for a billing reason",
    403: "This API key may not do this",
    404: "Not found: check the model name and the base URL",
}
_STOP_ADVICE: Final = {
    401: " Check the key (it may be mistyped, revoked, or for another service).",
    402: " Add or update a payment method in Cohere's dashboard, or raise the spending limit.",
    403: " Check that the key has access to this model.",
    404: "",
}


def judge_api_error(exc: ApiError, secret: str = "") -> Failure:
    """Judge an HTTP error answer from the SDK (*secret* is masked in the server's words)."""
    status = exc.status_code or 0
    said = server_message(exc.body, secret)
    if status in _STOP_WORDS:
        return Failure(
            Verdict.STOP, status, f"{_STOP_WORDS[status]} ({status}): {said}.{_STOP_ADVICE[status]}"
        )
    if status in (400, 422):
        return Failure(Verdict.SPLIT, status, f"The server refused it ({status}): {said}")
    if status == 429:
        return Failure(
            Verdict.RETRY,
            status,
            f"Too many requests for this key right now (429): {said}",
            retry_after_seconds(exc.headers),
        )
    if 200 <= status < 300:
        return Failure(
            Verdict.RETRY, status, f"The server's answer could not be read (not JSON): {said}"
        )
    if status in (408, 409) or status >= 500:
        return Failure(
            Verdict.RETRY,
            status,
            f"The server had a problem ({status}): {said}",
            retry_after_seconds(exc.headers),
        )
    return Failure(Verdict.STOP, status, f"Unexpected answer from the server ({status}): {said}")


def judge(exc: BaseException, timeout: float, secret: str = "") -> Failure | None:
    """Judge any exception raised by one attempt; ``None`` if it is not a request failure.

    *secret*, the key the attempt was made with, never appears in the message.
    """
    failure = _judged(exc, timeout, secret)
    if failure is None or not secret:
        return failure
    return replace(failure, message=scrubbed(failure.message, secret))


def _judged(exc: BaseException, timeout: float, secret: str) -> Failure | None:
    if isinstance(exc, ApiError):
        return judge_api_error(exc, secret)
    if isinstance(exc, httpx.TimeoutException):
        return Failure(Verdict.RETRY, None, f"No answer within {timeout:g} seconds.")
    if isinstance(exc, httpx.ConnectError):
        return Failure(
            Verdict.RETRY,
            None,
            f"Could not connect to the server ({exc}). Check the base URL and the connection.",
        )
    if isinstance(exc, httpx.TransportError):
        return Failure(Verdict.RETRY, None, f"The connection broke off ({type(exc).__name__}).")
    if isinstance(exc, BadResponse):
        return Failure(Verdict.RETRY, None, f"The server's answer was wrong: {exc}")
    return None


def backoff_seconds(
    attempt: int, failure: Failure, rng: random.Random, base: float = BACKOFF_BASE_SECONDS
) -> float:
    """The wait before retry number *attempt* (0 for the first retry).

    A server's ``Retry-After`` is honoured as given (capped); otherwise capped exponential
    backoff with jitter (a random wait between half and all of the step, *base* seconds for the
    first), so that many clients do not retry in step.
    """
    if failure.retry_after is not None:
        return min(BACKOFF_CAP_SECONDS, failure.retry_after) + rng.uniform(0, 0.1)
    ceiling = min(BACKOFF_CAP_SECONDS, base * 2**attempt)
    return rng.uniform(ceiling / 2, ceiling)
