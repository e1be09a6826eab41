"""Build one planned request exactly as the runner would send it, and the texts that show it.

Each image is prepared as the runner prepares it (the same :func:`prepare`, the same data URL,
the same :func:`embed_kwargs`), so what the inspector shows and copies is the request itself.
Runs on a worker thread: a full request can be 20 MB of JSON, too much to build or format on
the GUI thread. The key is never an input: snippets name ``$CO_API_KEY`` instead.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from desktop.core.images import Probe
from desktop.core.models import Settings
from desktop.core.payload import body_json, data_url, embed_kwargs
from desktop.core.prepare import PrepareError, prepare
from desktop.core.session import Session
from desktop.core.snippets import curl_command, full_request, python_code, readable_request
from desktop.workers.tasks import Report


@dataclass(frozen=True, slots=True)
class RequestJob:
    """One planned request to build (plain values copied from the session).

    Attributes:
        number: the request's position in the plan (0-based).
        of: how many requests the plan has.
        settings: the run's settings.
        probes: the images of the request, in plan order.
        sha256s: for each image, the digest of the bytes the plan expects to send.
        base_url: where the request goes (scheme, host, port; no ``/v2/embed``).
    """

    number: int
    of: int
    settings: Settings
    probes: tuple[Probe, ...]
    sha256s: tuple[str, ...]
    base_url: str


@dataclass(frozen=True, slots=True)
class BuiltRequest:
    """A request as it will be sent, and every way the inspector shows or copies it.

    Attributes:
        job: what was built.
        kwargs: the keyword arguments of ``ClientV2.embed`` (plain data).
        body_bytes: the size of the JSON body sent.
        readable: the body indented, data URLs shortened.
        full_json: the body exactly as sent.
        curl: a curl command that sends it (key from ``$CO_API_KEY``).
        python: Python code that sends it with the SDK (key from ``CO_API_KEY``).
    """

    job: RequestJob
    kwargs: dict[str, Any]
    body_bytes: int
    readable: str
    full_json: str
    curl: str
    python: str


@dataclass(frozen=True, slots=True)
class RequestProblem:
    """Why the request could not be built, in plain words."""

    message: str


@dataclass(frozen=True, slots=True)
class BuildProgress:
    """How many of the request's images are prepared so far."""

    done: int
    total: int


def request_job(session: Session, number: int, base_url: str) -> RequestJob | RequestProblem:
    """The inputs for building planned request *number* of *session* (on the GUI thread)."""
    plan = session.plan()
    if session.settings.spec is None:
        return RequestProblem("The chosen model cannot embed images, so there is no request.")
    if not 0 <= number < len(plan):
        return RequestProblem(
            "That request is no longer in the plan (the images or the settings changed)."
        )
    probes: list[Probe] = []
    shas: list[str] = []
    for index in plan[number].items:
        probe, sent = session.items[index].probe, session.sent_of(index)
        if probe is None or sent is None:
            return RequestProblem("An image of this request is still being prepared.")
        probes.append(probe)
        shas.append(sent.sha256)
    return RequestJob(number, len(plan), session.settings, tuple(probes), tuple(shas), base_url)


def _prepared_urls(
    probes: Sequence[Probe],
    sha256s: Sequence[str],
    settings: Settings,
    report: Report,
    cancelled: threading.Event,
) -> list[str] | RequestProblem | None:
    urls: list[str] = []
    for n, (probe, sha) in enumerate(zip(probes, sha256s, strict=True)):
        if cancelled.is_set():
            return None
        try:
            prepared = prepare(probe, settings)
        except PrepareError as exc:
            return RequestProblem(f"{probe.name}: {exc}")
        if prepared.sha256 != sha:
            return RequestProblem(f"{probe.name} changed since it was checked; add it again.")
        urls.append(data_url(prepared.mime, prepared.data))
        report(BuildProgress(n + 1, len(probes)))
    return urls


def build_request(
    job: RequestJob, report: Report, cancelled: threading.Event
) -> BuiltRequest | RequestProblem | None:
    """Prepare the request's images and build every text (``None`` when cancelled)."""
    spec = job.settings.spec
    if spec is None:
        return RequestProblem("The chosen model cannot embed images.")
    urls = _prepared_urls(job.probes, job.sha256s, job.settings, report, cancelled)
    if urls is None or isinstance(urls, RequestProblem):
        return urls
    kwargs = embed_kwargs(job.settings, spec, urls)
    del urls  # the kwargs hold the only copy needed from here on
    if cancelled.is_set():
        return None
    return BuiltRequest(
        job=job,
        kwargs=kwargs,
        body_bytes=len(body_json(kwargs)),
        readable=readable_request(kwargs),
        full_json=full_request(kwargs),
        curl=curl_command(job.base_url, kwargs),
        python=python_code(job.base_url, kwargs),
    )
