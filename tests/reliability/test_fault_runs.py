"""Long runs against the emulator while 20% of the requests go wrong at random.

The runner drives the real SDK over loopback; the emulator answers one request in five with a
429 (with a short ``Retry-After``), a 5xx, a held request the client must time out on, a
dropped connection, or a 200 cut short. Whatever happened on the way, every sendable image must
end up in the store exactly once, in the export exactly once, and with the vector its bytes
get.

What "exactly once" means for billing: the emulator bills every 200 it sends, as a real server
would. An answer that is billed but never usable by the client (cut short, or arriving after the
client gave up) is paid for again when the client retries: no client can avoid that. So the
checks are that every image is billed once for the answer that was stored, and that every
further billing is matched by an answer the client demonstrably lost. The store and the export
still hold each image once.

A longer variant (thousands of images, a few minutes) runs with ``EMBED_STUDIO_LONG=1``.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pytest

from desktop.core.assess import Assessment, assess
from desktop.core.endpoint import parse_endpoint
from desktop.core.export import ExportSettings, export
from desktop.core.models import RateLimit, Settings
from desktop.core.runner import ItemsEmbedded, Retrying, RunConfig, Runner, RunResult
from desktop.core.store import Store
from desktop.emulator import Emulator, Fault, FaultKind, FaultPlan, FaultSettings, Outcome
from tests.conftest import TEST_KEY
from tests.imagegen import distinct_jpegs, photo_folder
from tests.reliability.support import (
    EMBED_PATH,
    assert_vectors_are_the_emulators,
    float_key,
    integrity,
    rows_per_key,
    unsendable_files,
    vectors_per_embedding,
)
from tests.run_events import Recorder

LONG_ENV: Final = "EMBED_STUDIO_LONG"
LONG: Final = os.environ.get(LONG_ENV) == "1"
long_only = pytest.mark.skipif(
    not LONG, reason=f"the long fault run takes minutes: set {LONG_ENV}=1 to run it"
)

V3_LIGHT: Final = "embed-english-light-v3.0"
V4: Final = "embed-v4.0"
#: No pacing in the way: these runs are about faults, not the key's rate limit.
UNPACED: Final = {"rate_limit": RateLimit.CUSTOM, "custom_images_per_minute": 1_000_000}
#: What the client calls a timeout in its retry messages.
TIMEOUT_WORDS: Final = "No answer within"


def twenty_percent_faults(seed: int) -> FaultSettings:
    """One request in five goes wrong: 1 - 0.93 * 0.95 * 0.97 * 0.95 * 0.98 = 20.3%."""
    return FaultSettings(
        latency_ms=1.0,
        fail_rate=0.07,
        throttle_rate=0.05,
        timeout_rate=0.03,
        disconnect_rate=0.05,
        malformed_rate=0.02,
        retry_after=1,
        hold_seconds=10.0,
        seed=seed,
    )


class FaultRecorder(Recorder):
    """The run's events, with the counts the fault runs check."""

    def embedded(self) -> Counter[str]:
        """How many times each image was reported embedded."""
        return Counter(sha for e in self.of(ItemsEmbedded) for sha in e.sha256s)

    def client_timeouts(self) -> int:
        """Attempts the client gave up on for want of an answer."""
        return sum(1 for e in self.of(Retrying) if e.message.startswith(TIMEOUT_WORDS))


@dataclass
class Figures:
    """What a fault run did, for the report."""

    images: int
    requests: int
    outcomes: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    billed: int = 0
    billed_twice: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.outcomes.items()))
        return (
            f"{self.images} images, {self.requests} embed requests ({kinds}), "
            f"{self.retries} retries, {self.billed} images billed "
            f"({self.billed_twice} billed again after a lost answer), {self.seconds:.1f} s"
        )


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def images_for(folder: Path, count: int) -> tuple[list[Path], list[Path]]:
    """*count* sendable images (a few distinct photos, the rest distinct JPEG files) and the
    files the rules refuse."""
    photos = photo_folder(folder / "photos", min(count, 40), 64, 56)
    copies = distinct_jpegs(folder / "copies", count - len(photos))
    return photos + copies, unsendable_files(folder / "bad")


def fault_run(
    tmp_path: Path,
    emulator: Emulator,
    count: int,
    settings: Settings,
    *,
    concurrency: int,
    timeout: float,
    queued: tuple[Fault, ...] = (),
) -> Figures:
    """Embed *count* images under 20% random faults and check that each ended up stored and
    exported exactly once; returns the figures."""
    _images, refused = images_for(tmp_path / "in", count)
    result = assess([tmp_path / "in"], settings)
    sendable = {item.sent.sha256: item for item in result.items if item.sent and item.sendable}
    assert len(sendable) == count, "every generated image is sendable and distinct"
    refused_paths = {str(p) for p in refused}
    assert {i.probe.path for i in result.items if not i.sendable} == refused_paths

    for fault in queued:
        emulator.faults.queue(fault)
    config = RunConfig(
        settings=settings,
        api_key=TEST_KEY,
        endpoint=parse_endpoint(emulator.base_url),
        concurrency=concurrency,
        timeout=timeout,
        # 20% faults make six failures in a row likely somewhere in thousands of requests;
        # twelve attempts make giving up a one-in-four-billion event per request.
        max_attempts=12,
        backoff_base=0.02,
        seed=7,
    )
    recorder = FaultRecorder()
    store_path = tmp_path / "store.sqlite3"
    started = time.monotonic()
    with Store(store_path) as store:
        outcome = Runner(config, store, recorder).run(result.run_items())
        seconds = time.monotonic() - started
        assert outcome.outcome == "completed", outcome.message
        assert not outcome.failed, list(outcome.failed.values())[:3]
        assert outcome.embedded == count

        # The store: each image once, with the vector its bytes get, and nothing else.
        sent = {sha: Path(item.probe.path).read_bytes() for sha, item in sendable.items()}
        assert_vectors_are_the_emulators(store, sent, settings, emulator.base_url)
    assert integrity(store_path) == "ok"
    per_key = rows_per_key(store_path)
    assert {key[0] for key in per_key} == set(sendable), "the store holds exactly the images"
    assert set(per_key.values()) == {1}, "an image is stored once"
    assert set(vectors_per_embedding(store_path).values()) == {1}
    assert recorder.embedded() == Counter(set(sendable)), "each image is reported embedded once"

    # The export: one row per image, read back cleanly, holding the stored vector.
    check_exports(tmp_path, store_path, result, emulator.base_url)

    figures = check_billing(emulator, outcome, recorder, set(sendable))
    figures.seconds = seconds
    return figures


def check_billing(
    emulator: Emulator, outcome: RunResult, recorder: FaultRecorder, sendable: set[str]
) -> Figures:
    """Every image billed once for its stored answer, and again only for a lost answer."""
    records = [r for r in emulator.requests if r.path == EMBED_PATH]
    sent_images = {sha for r in records for sha in r.image_sha256}
    assert sent_images == sendable, "only sendable images were sent, and all of them"
    ok = Counter(sha for r in records if r.outcome is Outcome.OK for sha in r.image_sha256)
    spoiled = Counter(
        sha
        for r in records
        if r.outcome in (Outcome.MALFORMED_JSON, Outcome.WRONG_COUNT)
        for sha in r.image_sha256
    )
    billed = emulator.ledger.billed_by_sha256()
    assert all(ok[sha] >= 1 for sha in sendable), "each image's stored answer was billed"
    assert billed == dict(ok + spoiled), "the server bills exactly the answers it sent"
    # An OK answer the runner did not store can only be one that came after the client had
    # stopped waiting: count them against the timeouts the server did not cause itself.
    ok_requests = sum(1 for r in records if r.outcome is Outcome.OK)
    late = ok_requests - outcome.requests
    held = sum(1 for r in records if r.outcome is Outcome.TIMEOUT)
    assert late >= 0
    assert late <= recorder.client_timeouts() - held, (
        f"{late} answers were billed but not stored, more than the client's unexplained "
        f"timeouts ({recorder.client_timeouts()} timeouts, {held} of them held by the server)"
    )
    return Figures(
        images=len(sendable),
        requests=len(records),
        outcomes=Counter(r.outcome.value for r in records),
        retries=outcome.retries,
        billed=sum(billed.values()),
        billed_twice=sum(billed.values()) - len(sendable),
    )


def check_exports(tmp_path: Path, store_path: Path, result: Assessment, endpoint: str) -> None:
    """CSV and JSON exports hold one row per image, each with its stored vector."""
    s = result.settings
    export_settings = ExportSettings(
        model=s.model,
        input_type=s.effective_input_type,
        output_dimension=s.effective_dimension or 0,
        embedding_types=s.embedding_types,
        endpoint=endpoint,
        emulated=True,
    )
    items = result.export_items()
    with Store(store_path, read_only=True) as store:
        csv_summary = export(store, items, export_settings, tmp_path / "out.csv")
        json_summary = export(store, items, export_settings, tmp_path / "out.json")
        stored = store.get_many(float_key(i.sha256_sent, s, endpoint) for i in items)
    by_sha = {key.sha256: np.asarray(vector.values) for key, vector in stored.items()}
    assert csv_summary.rows == json_summary.rows == len(items)
    assert csv_summary.skipped_missing == json_summary.skipped_missing == 0

    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(items)
    assert Counter(row["sha256"] for row in rows) == Counter(i.sha256_sent for i in items)
    assert len({row["path"] for row in rows}) == len(rows)
    dimension = s.effective_dimension or 0
    for row in rows:
        values = np.array([float(row[f"e{n}"]) for n in range(dimension)], np.float32)
        np.testing.assert_array_equal(values, by_sha[row["sha256"]])

    document = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    entries = document["items"]
    assert len(entries) == len(items)
    assert Counter(entry["sha256"] for entry in entries) == Counter(i.sha256_sent for i in items)
    for entry in entries:
        vector = np.array(entry["embeddings"]["float"], np.float32)
        np.testing.assert_array_equal(vector, by_sha[entry["sha256"]])


# --------------------------------------------------------------------------------------------


def test_random_fault_kinds_are_drawn_at_their_rates() -> None:
    plan = FaultPlan(twenty_percent_faults(seed=3))
    draws = [plan.next_fault() for _ in range(20_000)]
    kinds = Counter(fault.kind if fault else None for fault in draws)
    faulty = 1 - kinds[None] / len(draws)
    assert 0.18 < faulty < 0.23, kinds
    for kind in (
        FaultKind.SERVER_ERROR,
        FaultKind.THROTTLE,
        FaultKind.TIMEOUT,
        FaultKind.DISCONNECT,
        FaultKind.MALFORMED_JSON,
    ):
        assert kinds[kind] > 200, kinds
    again = FaultPlan(twenty_percent_faults(seed=3))
    assert [again.next_fault() for _ in range(500)] == draws[:500], "a seed repeats its faults"


def test_one_image_per_request_under_twenty_percent_faults(
    tmp_path: Path, emulator: Emulator
) -> None:
    emulator.faults.update(**vars_of(twenty_percent_faults(seed=11)))
    settings = Settings(model=V3_LIGHT, **UNPACED)  # type: ignore[arg-type]

    figures = fault_run(tmp_path, emulator, 240, settings, concurrency=8, timeout=1.0)

    print(f"\nv3, one image per request: {figures.line()}")
    faults = figures.requests - figures.outcomes[Outcome.OK.value]
    assert faults >= 20, "the run met faults of every kind, not a quiet server"
    for kind in ("server_error", "throttled", "timeout", "disconnected", "malformed_json"):
        assert figures.outcomes[kind] >= 1, (kind, figures.outcomes)


def test_full_batches_under_every_fault_then_twenty_percent(
    tmp_path: Path, emulator: Emulator
) -> None:
    emulator.faults.update(**vars_of(twenty_percent_faults(seed=12)))
    queued = (
        Fault(FaultKind.THROTTLE, retry_after=1),
        Fault(FaultKind.SERVER_ERROR, status=502),
        Fault(FaultKind.TIMEOUT),
        Fault(FaultKind.DISCONNECT),
        Fault(FaultKind.MALFORMED_JSON),
        Fault(FaultKind.WRONG_COUNT),
    )
    settings = Settings(model=V4, output_dimension=256, **UNPACED)  # type: ignore[arg-type]

    figures = fault_run(
        tmp_path, emulator, 300, settings, concurrency=4, timeout=2.0, queued=queued
    )

    print(f"\nv4, full batches: {figures.line()}")
    for kind in ("throttled", "server_error", "timeout", "disconnected", "malformed_json"):
        assert figures.outcomes[kind] >= 1, (kind, figures.outcomes)
    assert figures.outcomes["wrong_count"] >= 1
    assert figures.billed_twice >= 2 * 75, "two spoiled answers of a full batch were paid for"


@long_only
@pytest.mark.slow
def test_long_run_one_image_per_request(tmp_path: Path, emulator: Emulator) -> None:
    emulator.faults.update(**vars_of(twenty_percent_faults(seed=21)))
    settings = Settings(model=V3_LIGHT, **UNPACED)  # type: ignore[arg-type]

    figures = fault_run(tmp_path, emulator, 3000, settings, concurrency=8, timeout=1.0)

    print(f"\nLONG v3, one image per request: {figures.line()}")


@long_only
@pytest.mark.slow
def test_long_run_full_batches(tmp_path: Path, emulator: Emulator) -> None:
    emulator.faults.update(**vars_of(twenty_percent_faults(seed=22)))
    settings = Settings(model=V4, output_dimension=256, **UNPACED)  # type: ignore[arg-type]

    figures = fault_run(tmp_path, emulator, 5000, settings, concurrency=4, timeout=5.0)

    print(f"\nLONG v4, full batches: {figures.line()}")


def vars_of(settings: FaultSettings) -> dict[str, float | int | bool | None]:
    """*settings* as keyword arguments of :meth:`FaultPlan.update`."""
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}
