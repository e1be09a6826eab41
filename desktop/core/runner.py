"""Send images to the Embed API through the official SDK, and keep every vector that comes back.

The runner plans the requests, skips images whose vectors are already stored, paces itself to
the key's rate limit, sends a bounded number of requests at once (one ``cohere.ClientV2`` per
worker thread), retries what is worth retrying, splits a refused batch to find the bad image,
and commits each response's vectors the moment they are parsed. It reports through a callback
of plain event objects, so the command line and the window can show the same progress.
"""

from __future__ import annotations

import contextlib
import gc
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Final, cast

import cohere

from desktop import __version__
from desktop.core.batching import PlannedRequest, plan_requests
from desktop.core.endpoint import Endpoint
from desktop.core.images import Probe
from desktop.core.models import ModelSpec, Settings
from desktop.core.pacing import Pacer
from desktop.core.payload import data_url, embed_kwargs
from desktop.core.prepare import PrepareError, prepare
from desktop.core.retry import (
    BACKOFF_BASE_SECONDS,
    BadResponse,
    Failure,
    Verdict,
    backoff_seconds,
    judge,
)
from desktop.core.store import EmbeddingRow, Store, StoreError, VectorKey

#: The response header by which the bundled emulator makes itself known.
EMULATOR_HEADER: Final = "x-embed-studio-emulator"
DEFAULT_CONCURRENCY: Final = 4
DEFAULT_TIMEOUT: Final = 120.0
DEFAULT_ATTEMPTS: Final = 6


@dataclass(frozen=True, slots=True)
class RunItem:
    """One distinct image to embed.

    Attributes:
        probe: the file as probed.
        sha256: the digest of the bytes that will be sent (known from the assessment).
        input_bytes: what the image adds to a request body (for the plan).
    """

    probe: Probe
    sha256: str
    input_bytes: int

    @property
    def path(self) -> str:
        """The file the image comes from."""
        return self.probe.path


@dataclass(frozen=True, slots=True)
class RunConfig:
    """How to reach the API and how hard to push it.

    Attributes:
        timeout: seconds to wait for one answer.
        max_attempts: attempts per request before its images are given up.
        backoff_base: the first backoff step in seconds (doubled on every further attempt;
            a server's ``Retry-After`` overrides it).
        seed: seed of the backoff jitter (``None`` for an unseeded generator).
    """

    settings: Settings
    api_key: str = field(repr=False)
    endpoint: Endpoint
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT
    max_attempts: int = DEFAULT_ATTEMPTS
    seed: int | None = None
    backoff_base: float = BACKOFF_BASE_SECONDS


# ---------------------------------------------------------------------------------------------
# Events: plain data, delivered from worker threads.


@dataclass(frozen=True, slots=True)
class RunPlanned:
    """The run is about to start."""

    total: int
    cached: int
    requests: int
    eta_seconds: float
    emulated: bool


@dataclass(frozen=True, slots=True)
class ItemsEmbedded:
    """A response's vectors were stored."""

    sha256s: tuple[str, ...]
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ItemFailed:
    """One image could not be embedded; the others go on."""

    sha256: str
    path: str
    message: str


@dataclass(frozen=True, slots=True)
class Retrying:
    """An attempt failed and will be tried again after a wait."""

    attempt: int
    wait_seconds: float
    message: str


@dataclass(frozen=True, slots=True)
class Progress:
    """Counts so far."""

    done: int
    failed: int
    total: int
    requests_done: int
    requests_total: int
    retries: int
    billed_images: float
    eta_seconds: float


@dataclass(frozen=True, slots=True)
class RunEnded:
    """The run is over: ``completed``, ``cancelled`` or ``stopped`` (a fatal error)."""

    outcome: str
    message: str
    done: int
    failed: int


Event = RunPlanned | ItemsEmbedded | ItemFailed | Retrying | Progress | RunEnded


@dataclass(slots=True)
class RunResult:
    """What a run achieved."""

    outcome: str = "completed"
    message: str = ""
    embedded: int = 0
    cached: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    billed_images: float = 0.0
    emulated: bool = False
    run_id: int | None = None


class _Stop(Exception):
    """A failure that ends the whole run."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class Runner:
    """Embeds a list of :class:`RunItem` under one :class:`RunConfig` into a :class:`Store`.

    ``on_event`` is called from worker threads; it must be quick and thread-safe.
    """

    def __init__(
        self,
        config: RunConfig,
        store: Store,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        spec = config.settings.spec
        if spec is None:
            raise ValueError(f"The model {config.settings.model!r} cannot embed images.")
        self.config = config
        self.store = store
        self._spec: ModelSpec = spec
        self._emit = on_event or (lambda _event: None)
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._clients: list[cohere.ClientV2] = []
        self._rng = random.Random(config.seed)
        self._pacer = Pacer(config.settings.images_per_minute)
        self._result = RunResult()
        self._total = 0
        self._requests_total = 0
        self._requests_done = 0
        self._latency_sum = 0.0
        self._run_id = 0

    # -- public ---------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop after the requests in flight; what they bring back is still stored."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called (or a fatal error stopped the run)."""
        return self._cancel.is_set()

    def run(self, items: Sequence[RunItem]) -> RunResult:
        """Embed *items*, skipping those already stored; blocks until done or cancelled."""
        # What exists now (the caller's session, a window...) outlives the run: moving it out of
        # the collector's sight makes the collection after each response scan only the run's
        # own objects, a few milliseconds instead of a pause that freezes a window.
        gc.freeze()
        try:
            return self._run(items)
        finally:
            self._close_clients()
            gc.unfreeze()

    def _run(self, items: Sequence[RunItem]) -> RunResult:
        result = self._result
        settings = self.config.settings
        distinct = list({item.sha256: item for item in items}.values())
        try:
            todo = self._not_stored(distinct)
        except StoreError as exc:
            return self._end("stopped", f"The result store cannot be used: {exc}")
        result.cached = len(distinct) - len(todo)
        self._total = len(distinct)
        try:
            result.emulated = self._check_key()
        except _Stop as stop:
            return self._end("stopped", stop.failure.message)
        plan = self._plan_for(todo)
        self._requests_total = len(plan)
        self._emit(
            RunPlanned(
                len(distinct),
                result.cached,
                len(plan),
                self._pacer.seconds_for(len(todo)),
                result.emulated,
            )
        )
        try:
            self._run_id = self.store.start_run(
                settings.model,
                settings.effective_input_type,
                self._dimension,
                list(settings.embedding_types),
                self.config.endpoint.url,
            )
        except StoreError as exc:
            return self._end("stopped", f"The run could not be recorded in the store: {exc}")
        result.run_id = self._run_id
        self._progress()
        with ThreadPoolExecutor(
            max_workers=max(1, self.config.concurrency), thread_name_prefix="embed-request"
        ) as pool:
            futures = [pool.submit(self._request, [todo[n] for n in r.items]) for r in plan]
            for future in futures:
                future.result()
        if result.outcome == "stopped":
            return self._end("stopped", result.message)
        if self._cancel.is_set():
            return self._end("cancelled", "Cancelled; every vector that arrived is kept.")
        return self._end("completed", "")

    # -- planning -------------------------------------------------------------------------

    @property
    def _dimension(self) -> int:
        dimension = self.config.settings.effective_dimension
        assert dimension is not None
        return dimension

    def _keys(self, sha256: str) -> list[VectorKey]:
        s = self.config.settings
        return [
            VectorKey(
                sha256,
                s.model,
                s.effective_input_type,
                self._dimension,
                kind,
                self.config.endpoint.url,
            )
            for kind in s.embedding_types
        ]

    def _plan_for(self, items: Sequence[RunItem]) -> list[PlannedRequest]:
        """The requests for *items*; none holds more images than a minute's allowance."""
        settings = self.config.settings
        cap = min(self._spec.max_images_per_request, settings.images_per_minute)
        spec = replace(self._spec, max_images_per_request=cap)
        return plan_requests([(n, it.input_bytes) for n, it in enumerate(items)], settings, spec)

    def _not_stored(self, items: Sequence[RunItem]) -> list[RunItem]:
        keys = [key for item in items for key in self._keys(item.sha256)]
        missing = {key.sha256 for key in self.store.missing(keys)}
        return [item for item in items if item.sha256 in missing]

    # -- the SDK --------------------------------------------------------------------------

    def _client(self) -> cohere.ClientV2:
        client: cohere.ClientV2 | None = getattr(self._local, "client", None)
        if client is None:
            client = cohere.ClientV2(
                api_key=self.config.api_key,
                base_url=self.config.endpoint.url,
                timeout=self.config.timeout,
                max_retries=0,
                client_name=f"embed-studio/{__version__}",
            )
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def _close_clients(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client._client_wrapper.httpx_client.httpx_client.close()

    def _check_key(self) -> bool:
        """Check the key for free before spending anything; says whether it is the emulator."""
        attempt = 0
        while True:
            try:
                # At run time with_raw_response holds v1's calls too; its type names only v2's.
                raw_client = cast(Any, self._client().with_raw_response)
                raw = raw_client.check_api_key()
            except Exception as exc:
                failure = self._judge(exc)
                if failure is None:
                    raise
                if failure.verdict is not Verdict.RETRY or attempt + 1 >= self.config.max_attempts:
                    raise _Stop(replace(failure, verdict=Verdict.STOP)) from None
                if self._wait_before_retry(attempt, failure):
                    raise _Stop(failure) from None
                attempt += 1
                continue
            if not getattr(raw.data, "valid", True):
                raise _Stop(
                    Failure(
                        Verdict.STOP,
                        401,
                        "The API key was refused: the server says it is not valid. Check the key.",
                    )
                )
            return EMULATOR_HEADER in {k.lower() for k in raw.headers}

    def _judge(self, exc: Exception) -> Failure | None:
        """:func:`judge` *exc*; the key is masked wherever the server's words quote it."""
        return judge(exc, self.config.timeout, self.config.api_key)

    # -- one request ----------------------------------------------------------------------

    def _request(self, items: list[RunItem]) -> None:
        if self._cancel.is_set():
            return
        urls: list[str] = []
        ready: list[RunItem] = []
        for item in items:
            try:
                prepared = prepare(item.probe, self.config.settings)
            except PrepareError as exc:
                self._fail(item, str(exc))
                continue
            if prepared.sha256 != item.sha256:
                self._fail(item, "The file changed since it was checked; add it again.")
                continue
            urls.append(data_url(prepared.mime, prepared.data))
            ready.append(item)
        if ready:
            self._send(ready, urls)
        with self._lock:
            self._requests_done += 1
        self._progress()

    def _send(self, items: list[RunItem], urls: list[str]) -> None:
        kwargs = embed_kwargs(self.config.settings, self._spec, urls)
        attempt = 0
        while not self._cancel.is_set():
            if not self._pacer.acquire(len(items), self._cancel):
                return
            started = time.monotonic()
            try:
                raw = self._client().with_raw_response.embed(**kwargs)
                rows = self._rows(items, raw.data)
            except Exception as exc:
                failure = self._judge(exc)
                if failure is None:
                    raise
                if failure.verdict is Verdict.STOP:
                    self._stop(failure)
                    return
                if failure.verdict is Verdict.SPLIT:
                    self._split(items, urls, failure)
                    return
                if attempt + 1 >= self.config.max_attempts:
                    for item in items:
                        self._fail(item, f"Gave up after {attempt + 1} attempts. {failure.message}")
                    return
                if self._wait_before_retry(attempt, failure):
                    return
                attempt += 1
                continue
            try:
                self.store.save_batch(self._run_id, rows)
            except StoreError as exc:
                self._stop(Failure(Verdict.STOP, None, f"The vectors could not be saved: {exc}"))
                return
            self._embedded(items, rows, time.monotonic() - started)
            del raw, rows
            # httpx ties each response to its stream in a reference cycle, so megabytes of
            # request and answer wait for a full collection, which Python rarely runs when the
            # objects are few but large: collect now to keep memory flat over long runs.
            gc.collect()
            return

    def _split(self, items: list[RunItem], urls: list[str], failure: Failure) -> None:
        if len(items) == 1:
            self._fail(items[0], failure.message)
            return
        half = len(items) // 2
        self._send(items[:half], urls[:half])
        self._send(items[half:], urls[half:])

    def _wait_before_retry(self, attempt: int, failure: Failure) -> bool:
        """Wait before the next attempt; ``True`` when the run was cancelled meanwhile."""
        with self._lock:
            wait = backoff_seconds(attempt, failure, self._rng, self.config.backoff_base)
            self._result.retries += 1
        self._emit(Retrying(attempt + 1, wait, failure.message))
        return self._cancel.wait(wait)

    def _rows(self, items: list[RunItem], response: Any) -> list[EmbeddingRow]:
        """Check the answer and turn it into rows; raises :class:`BadResponse`."""
        s = self.config.settings
        embeddings = getattr(response, "embeddings", None)
        if embeddings is None:
            raise BadResponse("it holds no embeddings")
        by_type: dict[str, list[Any]] = {}
        for kind in s.embedding_types:
            values = getattr(embeddings, "float_" if kind == "float" else kind, None)
            if values is None:
                raise BadResponse(f"it holds no {kind!r} embeddings")
            if len(values) != len(items):
                raise BadResponse(f"{len(values)} {kind} vectors came back for {len(items)} images")
            by_type[kind] = list(values)
        images = list(getattr(response, "images", None) or [])
        meta = getattr(getattr(response, "meta", None), "billed_units", None)
        billed = float(getattr(meta, "images", 0) or 0)
        tokens = float(getattr(meta, "image_tokens", 0) or 0)
        rows = []
        for n, item in enumerate(items):
            info = images[n] if len(images) == len(items) else None
            rows.append(
                EmbeddingRow(
                    sha256=item.sha256,
                    source_path=item.path,
                    model=s.model,
                    input_type=s.effective_input_type,
                    output_dimension=self._dimension,
                    endpoint=self.config.endpoint.url,
                    embeddings={kind: values[n] for kind, values in by_type.items()},
                    width=getattr(info, "width", None),
                    height=getattr(info, "height", None),
                    format=getattr(info, "format", None),
                    bit_depth=getattr(info, "bit_depth", None),
                    billed_images=billed / len(items),
                    billed_image_tokens=tokens / len(items),
                )
            )
        return rows

    # -- bookkeeping ----------------------------------------------------------------------

    def _embedded(self, items: list[RunItem], rows: list[EmbeddingRow], seconds: float) -> None:
        with self._lock:
            self._result.embedded += len(items)
            self._result.requests += 1
            self._result.billed_images += sum(r.billed_images for r in rows)
            self._latency_sum += seconds
        self._emit(ItemsEmbedded(tuple(i.sha256 for i in items), tuple(i.path for i in items)))

    def _fail(self, item: RunItem, message: str) -> None:
        with self._lock:
            self._result.failed[item.sha256] = message
        self._emit(ItemFailed(item.sha256, item.path, message))

    def _stop(self, failure: Failure) -> None:
        with self._lock:
            if self._result.outcome != "stopped":
                self._result.outcome = "stopped"
                self._result.message = failure.message
        self._cancel.set()

    def _eta(self) -> float:
        r = self._result
        remaining = self._total - r.cached - r.embedded - len(r.failed)
        requests_left = self._requests_total - self._requests_done
        per_request = self._latency_sum / r.requests if r.requests else 0.0
        by_latency = per_request * requests_left / max(1, self.config.concurrency)
        return max(by_latency, self._pacer.wait_time(remaining) if remaining > 0 else 0.0)

    def _progress(self) -> None:
        with self._lock:
            r = self._result
            event = Progress(
                done=r.cached + r.embedded,
                failed=len(r.failed),
                total=self._total,
                requests_done=self._requests_done,
                requests_total=self._requests_total,
                retries=r.retries,
                billed_images=r.billed_images,
                eta_seconds=self._eta(),
            )
        self._emit(event)

    def _end(self, outcome: str, message: str) -> RunResult:
        r = self._result
        r.outcome = outcome
        r.message = message or r.message
        if self._run_id:
            # The disk filled up or the file went read-only: every vector saved so far is kept
            # (the run already says why it stopped, if it did); only the run's record stays
            # unfinished.
            with contextlib.suppress(StoreError):
                self.store.finish_run(self._run_id, outcome, r.message)
        self._emit(RunEnded(outcome, r.message, r.cached + r.embedded, len(r.failed)))
        return r
