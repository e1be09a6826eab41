"""Ask the server whether an API key works (the free key check), on a worker, in plain words.

The key arrives as a plain string and leaves only as a request header: answers, messages and
logs never hold it: the server's words are shown with the key masked (a proxy or a server that
echoes the request would otherwise show it), and :func:`~desktop.core.keys.scrubbed` is the last
line of defence for unexpected errors.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

import cohere
import httpx
from cohere.core.api_error import ApiError

from desktop import __version__
from desktop.core.endpoint import Endpoint
from desktop.core.keys import key_problem, scrubbed
from desktop.core.retry import server_message
from desktop.core.runner import EMULATOR_HEADER
from desktop.workers.tasks import Report, Task, TaskPool, run_task

#: How long the key check waits for an answer, in seconds.
KEY_CHECK_TIMEOUT: Final = 10.0
#: The path the check asks (for messages; the SDK builds the request).
CHECK_PATH: Final = "/v1/check-api-key"

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KeyCheckResult:
    """What the server said about a key.

    Attributes:
        works: the server accepted the key.
        message: the answer in plain words (never holding the key).
        status: the HTTP status, or ``None`` when no answer came.
        emulated: the answer came from the Embed Studio emulator, not from Cohere.
    """

    works: bool
    message: str
    status: int | None = None
    emulated: bool = False


def check_key(
    secret: str, endpoint: Endpoint, timeout: float = KEY_CHECK_TIMEOUT
) -> KeyCheckResult:
    """Ask *endpoint* whether *secret* is a valid key; blocks up to *timeout*, never raises."""
    problem = key_problem(secret)
    if problem is not None:
        return KeyCheckResult(False, problem)
    try:
        with httpx.Client(timeout=timeout) as http:
            client = cohere.ClientV2(
                api_key=secret,
                base_url=endpoint.url,
                timeout=timeout,
                max_retries=0,
                httpx_client=http,
                client_name=f"embed-studio/{__version__}",
            )
            # ClientV2.check_api_key() raises "deprecated" in cohere 7.3; the raw client still
            # holds v1's call at run time, though its type names only v2's methods.
            raw = cast(Any, client.with_raw_response).check_api_key()
    except ApiError as exc:
        return _http_error(exc, endpoint, secret)
    except httpx.TimeoutException:
        return KeyCheckResult(
            False, f"Could not reach {endpoint.url}: no answer within {timeout:g} seconds."
        )
    except httpx.ConnectError as exc:
        reason = scrubbed(str(exc), secret) or type(exc).__name__
        return KeyCheckResult(
            False,
            f"Could not reach {endpoint.url} ({reason}). Check the internet connection and "
            "the base URL.",
        )
    except httpx.TransportError as exc:
        return KeyCheckResult(
            False,
            f"Could not reach {endpoint.url}: the connection broke off ({type(exc).__name__}).",
        )
    except Exception as exc:  # noqa: BLE001 - any failure becomes an answer, never a crash
        _log.error(
            "the key check failed unexpectedly:\n%s",
            scrubbed("".join(traceback.format_exception(exc)), secret),
        )
        return KeyCheckResult(
            False, f"The key could not be checked: an unexpected error ({type(exc).__name__})."
        )
    emulated = EMULATOR_HEADER in {name.lower() for name in raw.headers}
    if not getattr(raw.data, "valid", False):
        return KeyCheckResult(False, "The server says this key is not valid.", 200, emulated)
    if emulated:
        return KeyCheckResult(
            True,
            "This key works with the Embed Studio emulator at this address. The emulator is "
            "not Cohere: it accepts any key, so this says nothing about the key at Cohere.",
            200,
            emulated,
        )
    return KeyCheckResult(True, "This key works.", 200, emulated)


def _http_error(exc: ApiError, endpoint: Endpoint, secret: str) -> KeyCheckResult:
    status = exc.status_code or 0
    said = server_message(exc.body, secret)
    if status == 401:
        message = (
            f"The server refused this key (401): “{said}”. Check that it is complete, "
            "not revoked, and a Cohere key."
        )
    elif status == 404:
        message = (
            f"Nothing answers at {endpoint.url}{CHECK_PATH} (404): check the base URL "
            "(under Advanced)."
        )
    elif status == 429:
        message = f"Too many requests right now (429): “{said}”. Try again in a minute."
    elif 200 <= status < 300:
        message = (
            f"The server at {endpoint.url} answered, but not as the Cohere API does. "
            "Check the base URL (under Advanced)."
        )
    else:
        message = f"The server answered with an error ({status}): “{said}”."
    return KeyCheckResult(False, message, status or None)


def start_key_check(
    pool: TaskPool,
    secret: str,
    endpoint: Endpoint,
    receiver: Callable[[KeyCheckResult], None],
    timeout: float = KEY_CHECK_TIMEOUT,
) -> Task:
    """Check *secret* on *pool*; the :class:`KeyCheckResult` goes to ``receiver(result)``.

    *receiver* must be a ``@Slot(object)`` method of a GUI-thread QObject. The task can be
    cancelled (its answer is then dropped); the request itself ends within *timeout*.
    """

    def work(_report: Report, _cancelled: threading.Event) -> KeyCheckResult:
        return check_key(secret, endpoint, timeout)

    return run_task(pool, work, "key check", result=receiver)
