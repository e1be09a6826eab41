"""Benchmark: a whole run against the emulator, the project's runner against the naive loop.

Run by hand from the project root: ``python tests/bench/bench_run.py [--images 500]``.

Small generated photos are embedded through the real SDK against the in-process emulator set
to answer each request after 200 ms plus 20 ms per image. The emulator serves every connection
on its own thread and waits out each request's latency on that thread, so requests in flight
overlap as they would at the real API (the bench prints the most it saw at once). Measured in
one run, on the same images:

(a) the project's ``Runner``: default concurrency, production pacing (400 images a minute),
    a fresh store; the assessment (probe, rules, prepare, plan) is timed apart, before it;
(a') the same without pacing (a custom limit no run reaches), to show the engine alone: at
    production pacing a run of more than 400 images must wait for the next minute;
(b) the naive script most users write: one ``co.embed(inputs=[one image])`` per image;
(c) the floor: the latency of the fewest possible requests, summed, over the concurrency.

It prints seconds, images per second and the ratios runner/naive (target at least 20x) and
runner/floor (target at most 1.5x). Then the runner's memory at 500 and 5,000 images (each in a
fresh child process, against a second emulator without latency, pacing off: tracemalloc's peak
and the peak resident-set growth over the run; flat is the target), and the run time the app
announces for 500 images at trial pacing (5 a minute), read from the ``RunPlanned`` event of a
run cancelled as soon as it is planned. Nothing is asserted. The naive loop takes about
110 s for 500 images; ``--images`` shrinks the run.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import cohere

# Run as a script from the project root: make `tests` importable next to `desktop`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from desktop.core.assess import Assessment, assess
from desktop.core.endpoint import parse_endpoint
from desktop.core.models import MODELS, RateLimit, Settings
from desktop.core.pacing import paced_seconds
from desktop.core.rules import duration_words
from desktop.core.runner import DEFAULT_CONCURRENCY, Event, RunConfig, Runner, RunPlanned
from desktop.core.store import Store
from desktop.emulator import Emulator, FaultPlan, FaultSettings, RequestRecord
from tests import imagegen

KEY: Final = "bench-key"
LATENCY_MS: Final = 200.0
PER_IMAGE_MS: Final = 20.0
SETTINGS: Final = Settings()  # embed-v4.0, search_document, float, production pacing
#: A custom pace no run reaches: pacing off.
UNPACED: Final = replace(SETTINGS, rate_limit=RateLimit.CUSTOM, custom_images_per_minute=10**9)
MIME: Final = {".jpg": "image/jpeg", ".png": "image/png"}
EMBED_PATH: Final = "/v2/embed"


def make_images(folder: Path, count: int) -> list[Path]:
    """*count* distinct small photos (80 x 60, JPEG and PNG alternating)."""
    return imagegen.photo_folder(folder, count, width=80, height=60)


def embed_records(emu: Emulator, since: int = 0) -> list[RequestRecord]:
    return [r for r in emu.requests[since:] if r.path == EMBED_PATH]


def most_in_flight(records: Sequence[RequestRecord]) -> int:
    """The most embed requests the emulator held at once (each for its latency)."""
    edges: list[tuple[float, int]] = []
    for r in records:
        delay = (LATENCY_MS + PER_IMAGE_MS * r.images) / 1000
        edges += [(r.received_at, 1), (r.received_at + delay, -1)]
    most = now = 0
    for _, step in sorted(edges):
        now += step
        most = max(most, now)
    return most


@dataclass(frozen=True)
class Timed:
    label: str
    seconds: float
    images: int
    requests: int

    @property
    def rate(self) -> float:
        return self.images / self.seconds if self.seconds else math.inf


def run_runner(
    emu: Emulator, assessment: Assessment, settings: Settings, store_path: Path
) -> tuple[float, int, int]:
    """Embed every item with a fresh store; (seconds, images embedded, requests seen)."""
    before = len(emu.requests)
    config = RunConfig(
        settings=settings,
        api_key=KEY,
        endpoint=parse_endpoint(emu.base_url),
        concurrency=DEFAULT_CONCURRENCY,
    )
    items = assessment.run_items()
    with Store(store_path) as store:
        start = time.perf_counter()
        result = Runner(config, store).run(items)
        seconds = time.perf_counter() - start
    if result.outcome != "completed" or result.failed:
        raise SystemExit(f"the runner did not complete: {result.outcome} {result.message}")
    records = embed_records(emu, before)
    print(f"      ({len(records)} requests, at most {most_in_flight(records)} in flight at once)")
    return seconds, result.embedded, len(records)


def data_url(path: Path) -> str:
    return f"data:{MIME[path.suffix]};base64,{base64.b64encode(path.read_bytes()).decode()}"


def run_naive(emu: Emulator, files: Sequence[Path]) -> float:
    """One ``co.embed`` per image, one after another, the way most scripts are written."""
    with cohere.ClientV2(api_key=KEY, base_url=emu.base_url) as co:
        start = time.perf_counter()
        for path in files:
            image = cohere.ImageUrlEmbedContent(image_url=cohere.EmbedImageUrl(url=data_url(path)))
            co.embed(
                model=SETTINGS.model,
                input_type="search_document",
                embedding_types=["float"],
                inputs=[cohere.EmbedInput(content=[image])],
            )
        return time.perf_counter() - start


def floor_seconds(images: int, concurrency: int) -> tuple[float, int]:
    """(the floor, the fewest possible requests) for *images* at *concurrency*.

    The floor is the summed latency of the fewest possible requests over *concurrency*, and
    never less than one request's latency (fewer requests than workers cannot overlap more).
    """
    per_request = MODELS[SETTINGS.model].max_images_per_request
    requests = math.ceil(images / per_request)
    total_ms = requests * LATENCY_MS + images * PER_IMAGE_MS
    longest_ms = LATENCY_MS + min(images, per_request) * PER_IMAGE_MS
    return max(total_ms / concurrency, longest_ms) / 1000, requests


def announced_trial_time(emu: Emulator, folder: Path, store_path: Path) -> RunPlanned:
    """The ``RunPlanned`` of a trial-paced run, cancelled before anything is sent."""
    settings = replace(SETTINGS, rate_limit=RateLimit.TRIAL)
    config = RunConfig(settings=settings, api_key=KEY, endpoint=parse_endpoint(emu.base_url))
    planned: list[RunPlanned] = []
    box: list[Runner] = []

    def on_event(event: Event) -> None:
        if isinstance(event, RunPlanned):
            planned.append(event)
            box[0].cancel()

    before = len(emu.requests)
    with Store(store_path) as store:
        runner = Runner(config, store, on_event)
        box.append(runner)
        runner.run(assess([folder], settings).run_items())
    if embed_records(emu, before):
        raise SystemExit("the trial-paced run sent images; it was meant to stop once planned")
    return planned[0]


# --------------------------------------------------------------------------------------------
# Memory, measured in a fresh child process per size


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _RssPeak:
    """Samples the resident set every 5 ms on a thread until stopped."""

    def __init__(self) -> None:
        self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_bytes())

    def __enter__(self) -> _RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


def memory_child(folder: Path, base_url: str, how: str, store_path: Path) -> dict[str, Any]:
    """Run the runner over *folder* unpaced and measure its memory *how* (rss | tracemalloc).

    The assessment is made before measuring (the caller holds the items, not the runner), and
    one image is embedded first into a throwaway store, so the SDK's lazy imports and the
    first connection are not counted.
    """
    assessment = assess([folder], UNPACED)
    items = assessment.run_items()
    config = RunConfig(settings=UNPACED, api_key=KEY, endpoint=parse_endpoint(base_url))
    with Store(store_path.with_suffix(".warm-up.sqlite3")) as store:
        Runner(config, store).run(items[:1])
    with Store(store_path) as store:
        runner = Runner(config, store)
        if how == "tracemalloc":
            tracemalloc.start()
            base, _ = tracemalloc.get_traced_memory()
            result = runner.run(items)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            grown = peak - base
        else:
            start = _rss_bytes()
            with _RssPeak() as sampler:
                result = runner.run(items)
            grown = sampler.peak - start
    return {"images": len(items), "embedded": result.embedded, "bytes": grown}


def measure_memory(sizes: Sequence[int], root: Path) -> None:
    print("\nRunner memory (fresh process per measurement, no latency, pacing off)")
    with Emulator() as emu:
        results: dict[tuple[int, str], int] = {}
        for size in sizes:
            folder = root / f"memory-{size}"
            make_images(folder, size)
            for how in ("tracemalloc", "rss"):
                store = root / f"memory-{size}-{how}.sqlite3"
                done = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        *("--memory-child", os.fspath(folder), "--base-url", emu.base_url),
                        *("--how", how, "--store", os.fspath(store)),
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0:
                    raise SystemExit(f"the memory child failed:\n{done.stderr}")
                report = json.loads(done.stdout.splitlines()[-1])
                if report["embedded"] != size:
                    raise SystemExit(f"the memory child embedded {report['embedded']} of {size}")
                results[size, how] = report["bytes"]
                print(
                    f"  {size:>6} images  {how:<12} peak growth {report['bytes'] / 2**20:8.1f} MiB"
                )
        first, last = sizes[0], sizes[-1]
        for how in ("tracemalloc", "rss"):
            ratio = results[last, how] / max(1, results[first, how])
            print(f"  {how:<12} {last} vs {first} images: {ratio:5.2f}x  (target: flat, about 1x)")


# --------------------------------------------------------------------------------------------


def timed_print(label: str, work: Callable[[], float], images: int) -> float:
    seconds = work()
    print(f"  {label:<46} {seconds:8.2f} s  {images / seconds:8.1f} images/s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=500, help="images to embed (default 500)")
    parser.add_argument(
        "--memory-sizes",
        default="500,5000",
        help="image counts for the memory measurement, comma-separated (default 500,5000)",
    )
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--how", choices=("rss", "tracemalloc"), help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child is not None:
        print(json.dumps(memory_child(args.memory_child, args.base_url, args.how, args.store)))
        return

    n = args.images
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        root = Path(tmp)
        folder = root / "images"
        files = make_images(folder, n)
        faults = FaultPlan(FaultSettings(latency_ms=LATENCY_MS, per_image_ms=PER_IMAGE_MS))
        print(
            f"{n} images of 80 x 60 against the emulator at {LATENCY_MS:g} ms per request "
            f"+ {PER_IMAGE_MS:g} ms per image; concurrency {DEFAULT_CONCURRENCY}"
        )
        with Emulator(faults=faults) as emu:
            start = time.perf_counter()
            assessment = assess([folder], SETTINGS)
            print(
                f"  {'assessment (probe, rules, prepare, plan)':<46} "
                f"{time.perf_counter() - start:8.2f} s"
            )

            def runner_paced() -> float:
                return run_runner(emu, assessment, SETTINGS, root / "paced.sqlite3")[0]

            def runner_unpaced() -> float:
                return run_runner(emu, assessment, UNPACED, root / "unpaced.sqlite3")[0]

            a = timed_print("(a) runner, production pacing (400/min)", runner_paced, n)
            a2 = timed_print("(a') runner, pacing off", runner_unpaced, n)
            b = timed_print("(b) naive loop, one image per call", lambda: run_naive(emu, files), n)
            floor, fewest = floor_seconds(n, DEFAULT_CONCURRENCY)
            print(
                f"  {'(c) floor: ' + str(fewest) + ' requests / concurrency':<46} {floor:8.2f} s"
                f"  {n / floor:8.1f} images/s"
            )
            pace_floor = paced_seconds(n, SETTINGS.images_per_minute)
            print(f"  {'    pacing alone (400/min, from a quiet start)':<46} {pace_floor:8.2f} s")
            print("\nRatios (same run)")
            print(f"  naive / runner (paced)    {b / a:7.2f}x   (target >= 20x)")
            print(f"  naive / runner (unpaced)  {b / a2:7.2f}x   (target >= 20x)")
            print(f"  runner (paced) / floor    {a / floor:7.2f}x   (target <= 1.5x)")
            print(f"  runner (unpaced) / floor  {a2 / floor:7.2f}x   (target <= 1.5x)")

            planned = announced_trial_time(emu, folder, root / "trial.sqlite3")
            print(
                f"\nAnnounced at trial pacing (5/min) for {planned.total} images: "
                f"{planned.eta_seconds:.0f} s ({duration_words(planned.eta_seconds)}) in "
                f"{planned.requests} requests; paced_seconds({n}, 5) = {paced_seconds(n, 5):.0f} s"
            )
        sizes = [int(s) for s in args.memory_sizes.split(",") if s.strip()]
        if sizes:
            measure_memory(sizes, root)


if __name__ == "__main__":
    main()
