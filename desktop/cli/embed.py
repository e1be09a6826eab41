"""``embed-studio embed``: embed every sendable image and write the vectors to a file."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from desktop.cli.options import add_settings_arguments, settings_from_args
from desktop.core.assess import Assessment, assess, display_path
from desktop.core.endpoint import EndpointError, parse_endpoint
from desktop.core.export import ExportError, ExportSettings, export, export_format
from desktop.core.keys import ENV_VAR, KEYRING_SERVICE, KeySource, find_key, key_problem
from desktop.core.models import EmbeddingType, RateLimit, Settings
from desktop.core.rules import Severity, Status, duration_words
from desktop.core.runner import (
    DEFAULT_CONCURRENCY,
    DEFAULT_TIMEOUT,
    Event,
    ItemFailed,
    Progress,
    Retrying,
    RunConfig,
    RunEnded,
    RunItem,
    Runner,
    RunPlanned,
    RunResult,
)
from desktop.core.store import StoreError, open_store

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def add_parser(sub: Any) -> None:
    """Register ``embed`` on the subcommand parser *sub*."""
    parser = sub.add_parser(
        "embed",
        help="embed every sendable image and write the vectors to a file",
        description="Embed every sendable image under PATH and write the vectors to FILE "
        "(.csv, .json, .jsonl, .npy, .npz, or .tsv for the TensorFlow Embedding Projector). "
        f"The API key comes from {ENV_VAR}, else from the system keyring entry the app writes; "
        "it is never taken as an argument. Images already embedded with the same settings are "
        "not sent again. Exit status: 0 when every sendable image was embedded, 1 when some "
        "failed (the others are still written), 2 for a usage error.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="where to write")
    add_settings_arguments(parser)
    parser.add_argument(
        "--embedding-type",
        action="append",
        choices=[t.value for t in EmbeddingType],
        metavar="TYPE",
        help="float (default), int8, uint8, binary, ubinary or base64; repeat for several",
    )
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="the API's address (default: Cohere's, or CO_API_URL); e.g. the emulator's",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"requests in flight at once (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--rate-limit",
        default=RateLimit.PRODUCTION.value,
        metavar="LIMIT",
        help="images per minute the key allows: trial (5), production (400, the default), "
        "or a number",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for one answer (default {DEFAULT_TIMEOUT:g})",
    )
    parser.set_defaults(run=run)


def _usage(message: str) -> int:
    print(f"embed-studio embed: {message}", file=sys.stderr)
    return EXIT_USAGE


def _with_rate_limit(settings: Settings, text: str) -> Settings | None:
    """*settings* paced as ``--rate-limit`` says, or ``None`` when it makes no sense."""
    if text in (RateLimit.TRIAL.value, RateLimit.PRODUCTION.value):
        return replace(settings, rate_limit=RateLimit(text))
    try:
        per_minute = int(text)
    except ValueError:
        return None
    if per_minute < 1:
        return None
    return replace(settings, rate_limit=RateLimit.CUSTOM, custom_images_per_minute=per_minute)


def run(args: argparse.Namespace) -> int:
    """Carry out ``embed`` and return its exit status."""
    base = settings_from_args(args)
    if base is None:
        return EXIT_USAGE
    types = tuple(dict.fromkeys(args.embedding_type or [EmbeddingType.FLOAT.value]))
    settings = _with_rate_limit(replace(base, embedding_types=types), args.rate_limit)
    if settings is None:
        return _usage(
            f"--rate-limit takes trial, production or a whole number, not {args.rate_limit!r}"
        )
    if args.concurrency < 1:
        return _usage("--concurrency must be at least 1")
    try:
        export_format(args.out)
    except ExportError as exc:
        return _usage(str(exc))
    try:
        endpoint = parse_endpoint(args.base_url or os.environ.get("CO_API_URL"))
    except EndpointError as exc:
        return _usage(str(exc))
    if endpoint.fixed:
        print(f"Note: {endpoint.fixed}", file=sys.stderr)
    key = find_key()
    if key is None:
        return _usage(
            f"no API key. Set {ENV_VAR}, or save a key in the app (it goes to the system "
            f"keyring under {KEYRING_SERVICE!r})."
        )
    problem = key_problem(key.secret)
    if problem is not None:
        # Sent anyway, such a key makes the HTTP library fail with the whole key in its message.
        where = ENV_VAR if key.source is KeySource.ENVIRONMENT else "the system keyring"
        return _usage(f"the API key in {where} cannot be used. {problem}")

    result = assess(args.paths, settings)
    _report_errors(result)
    if any(f.severity is Severity.ERROR for f in result.findings):
        return EXIT_FAILED
    items = result.run_items()
    try:
        store, set_aside = open_store()
    except StoreError as exc:
        print(f"embed-studio embed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if set_aside is not None:
        print(f"Note: {set_aside.message}", file=sys.stderr)
    with store:
        config = RunConfig(
            settings=settings,
            api_key=key.secret,
            endpoint=endpoint,
            concurrency=args.concurrency,
            timeout=args.timeout,
        )
        try:
            outcome = _run_interruptibly(Runner(config, store, _ProgressPrinter(sys.stderr)), items)
        except StoreError as exc:
            print(f"embed-studio embed: {exc}", file=sys.stderr)
            return EXIT_FAILED
        if outcome is None:
            return EXIT_INTERRUPTED
        try:
            summary = export(
                store,
                result.export_items(),
                ExportSettings(
                    model=settings.model,
                    input_type=settings.effective_input_type,
                    output_dimension=settings.effective_dimension or 0,
                    embedding_types=settings.embedding_types,
                    endpoint=endpoint.url,
                    emulated=outcome.emulated,
                ),
                args.out,
            )
        except (ExportError, StoreError) as exc:
            print(f"embed-studio embed: could not write {args.out}: {exc}", file=sys.stderr)
            return EXIT_FAILED
    written = ", ".join(str(p) for p in summary.paths)
    missing = f" ({summary.skipped_missing} without a vector left out)" * bool(
        summary.skipped_missing
    )
    print(f"Wrote {_plural(summary.rows, 'vector')}{missing} to {written}.", file=sys.stderr)
    failed = outcome.outcome != "completed" or bool(outcome.failed) or result.has_errors
    return EXIT_FAILED if failed else EXIT_OK


def _report_errors(result: Assessment) -> None:
    for item in result.items:
        if item.status is Status.ERROR:
            codes = ", ".join(
                f"{f.code}: {f.message}" for f in item.findings if f.severity is Severity.ERROR
            )
            print(f"not sent: {display_path(item.probe.path)} ({codes})", file=sys.stderr)
    for finding in result.findings:
        if finding.severity is Severity.ERROR:
            print(f"cannot run: {finding.code}: {finding.message}", file=sys.stderr)


def _run_interruptibly(runner: Runner, items: list[RunItem]) -> RunResult | None:
    """Run on a worker thread so Ctrl+C cancels cleanly; ``None`` if interrupted.

    The wait is on an event the worker sets when it is really over: in Python 3.11, a
    ``Thread.join`` interrupted by Ctrl+C can mark the thread finished while it still runs, and
    closing the store under it would lose the answers to requests already in flight.
    """
    box: list[RunResult] = []
    errors: list[BaseException] = []
    over = threading.Event()

    def work() -> None:
        try:
            box.append(runner.run(items))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)
        finally:
            over.set()

    threading.Thread(target=work, name="embed-run", daemon=True).start()
    try:
        while not over.wait(0.2):
            pass
    except KeyboardInterrupt:
        print("\nCancelling: waiting for the requests in flight...", file=sys.stderr)
        runner.cancel()
        over.wait()
        return None
    if errors:
        raise errors[0]
    return box[0]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _plan_words(event: RunPlanned) -> str:
    origin = " Answers come from the local emulator: its vectors are not Cohere's." * event.emulated
    if event.total == event.cached:
        return (
            f"All {_plural(event.total, 'image')} are already embedded with these settings: "
            f"nothing to send.{origin}"
        )
    slow = event.eta_seconds >= 60
    eta = f", {duration_words(event.eta_seconds)} at the key's rate limit" if slow else ""
    cached = f" ({event.cached} already embedded)" if event.cached else ""
    return (
        f"Sending {_plural(event.total - event.cached, 'image')}{cached} in "
        f"{_plural(event.requests, 'request')}{eta}.{origin}"
    )


class _ProgressPrinter:
    """Prints run events on a stream: a live line on a terminal, a line now and then elsewhere."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self._last = 0.0
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._show(event)

    def _line(self, text: str) -> None:
        if self.live:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def _show(self, event: Event) -> None:
        if isinstance(event, RunPlanned):
            self._line(_plan_words(event))
        elif isinstance(event, Retrying):
            self._line(f"retrying in {event.wait_seconds:.1f} s: {event.message}")
        elif isinstance(event, ItemFailed):
            self._line(f"failed: {display_path(event.path)}: {event.message}")
        elif isinstance(event, RunEnded):
            if event.outcome != "completed":
                self._line(f"{event.outcome}: {event.message}")
        elif isinstance(event, Progress):
            self._progress(event)

    def _progress(self, p: Progress) -> None:
        if p.requests_done == 0:
            return
        now = time.monotonic()
        final = p.requests_done == p.requests_total
        if not self.live and not final and now - self._last < 2:
            return
        self._last = now
        eta = f", {duration_words(p.eta_seconds)} left" if p.eta_seconds >= 1 and not final else ""
        text = (
            f"embedded {p.done}/{p.total}, {p.failed} failed, requests {p.requests_done}/"
            f"{p.requests_total}, {p.retries} retries{eta}"
        )
        if self.live and not final:
            self.stream.write("\r\x1b[K" + text)
            self.stream.flush()
        else:
            self._line(text)
