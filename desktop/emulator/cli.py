"""``embed-studio serve-emulator``: run the emulator until SIGINT or SIGTERM.

The first line of stdout is the base URL (``http://127.0.0.1:PORT``), flushed at once, so a
script or test can start the command and read where to connect. Request logs go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from desktop.emulator.faults import FaultPlan, FaultSettings
from desktop.emulator.server import Emulator

#: How often the waiting main thread wakes so a signal handler's flag is seen promptly.
_WAKE_SECONDS = 0.5


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0 to 65535)")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve-emulator`` options to *parser*."""
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="loopback address to listen on (default 127.0.0.1; other addresses are refused)",
    )
    parser.add_argument(
        "--port", type=_port, default=0, help="port to listen on (default 0: any free port)"
    )
    parser.add_argument(
        "--latency-ms", type=_non_negative, default=0.0, help="delay before every embed answer"
    )
    parser.add_argument(
        "--per-image-ms", type=_non_negative, default=0.0, help="further delay per image"
    )
    parser.add_argument(
        "--fail-rate",
        type=_probability,
        default=0.0,
        help="probability (0 to 1) that an embed request gets a 500, 502 or 503",
    )
    parser.add_argument(
        "--rate-limit",
        type=_positive_int,
        default=None,
        metavar="IMAGES_PER_MINUTE",
        help="answer 429 with Retry-After beyond this many images per minute",
    )
    parser.add_argument(
        "--key",
        action="append",
        default=None,
        help="an API key to accept (repeatable; default: accept any non-empty key)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the random faults")


def build_emulator(args: argparse.Namespace) -> Emulator:
    """The (not yet started) emulator the parsed options describe.

    Raises:
        ValueError: the host is not a loopback address.
    """
    settings = FaultSettings(
        latency_ms=args.latency_ms,
        per_image_ms=args.per_image_ms,
        fail_rate=args.fail_rate,
        images_per_minute=args.rate_limit,
        seed=args.seed,
    )
    return Emulator(faults=FaultPlan(settings), host=args.host, port=args.port, keys=args.key)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 0 on a clean stop, 2 for a refused host, 1 if unbindable.

    Call it on the main thread: it installs (and afterwards restores) the signal handlers.
    """
    try:
        emulator = build_emulator(args)
    except ValueError as exc:
        print(f"serve-emulator: {exc}", file=sys.stderr)
        return 2
    try:
        emulator.start()
    except OSError as exc:
        print(
            f"serve-emulator: cannot listen on {emulator.host} port {args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(emulator.base_url, flush=True)
        print("serving; stop with Ctrl+C or SIGTERM", file=sys.stderr, flush=True)
        while not stop.wait(_WAKE_SECONDS):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        emulator.close()
    return 0
