"""The runner on the real SDK against the emulator over loopback: success, faults, cache, cancel."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

from desktop.core.assess import Assessment, assess
from desktop.core.endpoint import parse_endpoint
from desktop.core.models import RateLimit, Settings
from desktop.core.pacing import Pacer, paced_seconds
from desktop.core.runner import (
    Event,
    ItemFailed,
    ItemsEmbedded,
    Progress,
    Retrying,
    RunConfig,
    RunEnded,
    Runner,
    RunPlanned,
    RunResult,
)
from desktop.core.store import Store, VectorKey
from desktop.emulator import Emulator, Fault, FaultKind, RequestRecord, expected_vector
from tests.conftest import TEST_KEY
from tests.imagegen import corrupt_data_png, photo_folder
from tests.run_events import Recorder

EMBED = "/v2/embed"
E = TypeVar("E")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    with Store(store_path) as s:
        yield s


def run_once(
    emu: Emulator | str,
    result: Assessment,
    store: Store,
    recorder: Callable[[Event], None] | None = None,
    runner_box: list[Runner] | None = None,
    **config: object,
) -> RunResult:
    base_url = emu if isinstance(emu, str) else emu.base_url
    cfg = RunConfig(
        settings=result.settings,
        api_key=TEST_KEY,
        endpoint=parse_endpoint(base_url),
        seed=1,
        **config,  # type: ignore[arg-type]
    )
    runner = Runner(cfg, store, recorder)
    if runner_box is not None:
        runner_box.append(runner)
    return runner.run(result.run_items())


def embed_requests(emu: Emulator) -> list[RequestRecord]:
    return [r for r in emu.requests if r.path == EMBED]


def assert_vectors_match_files(result: Assessment, store: Store, base_url: str) -> None:
    """Every sendable item's stored vector is the one the server derives from its bytes."""
    s = result.settings
    for item in result.items:
        assert item.sent is not None
        key = VectorKey(
            item.sent.sha256,
            s.model,
            s.effective_input_type,
            s.effective_dimension or 0,
            "float",
            base_url,
        )
        stored = store.get(key)
        assert stored is not None, item.probe.path
        data = Path(item.probe.path).read_bytes()
        want = expected_vector(data, s.model, s.effective_input_type, s.effective_dimension)
        np.testing.assert_allclose(np.asarray(stored.values), want, rtol=1e-6)


def test_a_folder_is_embedded_and_every_vector_traces_back_to_its_file(
    tmp_path: Path, emulator: Emulator, store: Store
) -> None:
    photo_folder(tmp_path / "in", 7)
    result = assess([tmp_path / "in"], Settings(embedding_types=("float", "int8")))
    recorder = Recorder()

    outcome = run_once(emulator, result, store, recorder)

    assert outcome.outcome == "completed"
    assert outcome.embedded == 7
    assert not outcome.failed
    assert outcome.emulated, "the emulator names itself, so its vectors are labelled"
    assert len(embed_requests(emulator)) == 1, "7 small images fit one v4 request"
    assert_vectors_match_files(result, store, emulator.base_url)
    planned = recorder.of(RunPlanned)
    assert len(planned) == 1
    assert planned[0].requests == 1
    final = recorder.of(Progress)[-1]
    assert final.done == 7
    assert final.requests_done == 1
    assert isinstance(recorder.events[-1], RunEnded)


def test_a_second_run_sends_nothing(tmp_path: Path, emulator: Emulator, store: Store) -> None:
    photo_folder(tmp_path / "in", 5)
    result = assess([tmp_path / "in"], Settings())
    run_once(emulator, result, store)
    before = len(embed_requests(emulator))

    again = run_once(emulator, result, store)

    assert again.cached == 5
    assert again.embedded == 0
    assert len(embed_requests(emulator)) == before


def test_other_settings_or_endpoint_are_not_served_from_the_cache(
    tmp_path: Path, emulator: Emulator, store: Store
) -> None:
    photo_folder(tmp_path / "in", 2)
    run_once(emulator, assess([tmp_path / "in"], Settings()), store)

    other_dimension = assess([tmp_path / "in"], Settings(output_dimension=256))
    assert run_once(emulator, other_dimension, store).embedded == 2
    with Emulator() as other_server:
        assert run_once(other_server, other_dimension, store).embedded == 2


def test_v3_sends_one_image_per_request(tmp_path: Path, emulator: Emulator, store: Store) -> None:
    photo_folder(tmp_path / "in", 3)
    result = assess([tmp_path / "in"], Settings(model="embed-english-light-v3.0"))

    outcome = run_once(emulator, result, store)

    assert outcome.embedded == 3
    assert [r.images for r in embed_requests(emulator)] == [1, 1, 1]
    assert_vectors_match_files(result, store, emulator.base_url)


def test_a_429_storm_is_waited_out_as_retry_after_says(
    tmp_path: Path, emulator: Emulator, store: Store
) -> None:
    photo_folder(tmp_path / "in", 3)
    emulator.faults.queue(Fault(FaultKind.THROTTLE, retry_after=1), count=3)
    recorder = Recorder()

    outcome = run_once(emulator, assess([tmp_path / "in"], Settings()), store, recorder)

    assert outcome.outcome == "completed"
    assert outcome.embedded == 3
    attempts = embed_requests(emulator)
    assert [r.status for r in attempts] == [429, 429, 429, 200]
    gaps = [b.received_at - a.received_at for a, b in itertools.pairwise(attempts)]
    assert all(gap >= 1.0 for gap in gaps), gaps
    assert len(recorder.of(Retrying)) == 3


@pytest.mark.parametrize(
    "fault",
    [
        Fault(FaultKind.SERVER_ERROR, status=503),
        Fault(FaultKind.SERVER_ERROR, status=500),
        Fault(FaultKind.MALFORMED_JSON),
        Fault(FaultKind.DISCONNECT),
        Fault(FaultKind.WRONG_COUNT),
    ],
    ids=["503", "500", "malformed-json", "disconnect", "wrong-vector-count"],
)
def test_a_passing_fault_is_retried_and_the_run_completes(
    tmp_path: Path, emulator: Emulator, store: Store, fault: Fault
) -> None:
    photo_folder(tmp_path / "in", 4)
    emulator.faults.queue(fault)
    result = assess([tmp_path / "in"], Settings())

    outcome = run_once(emulator, result, store)

    assert outcome.outcome == "completed", outcome
    assert outcome.embedded == 4
    assert outcome.retries == 1
    assert len(embed_requests(emulator)) == 2
    assert_vectors_match_files(result, store, emulator.base_url)


def test_a_timeout_is_retried(tmp_path: Path, emulator: Emulator, store: Store) -> None:
    photo_folder(tmp_path / "in", 2)
    emulator.faults.update(hold_seconds=5.0)
    emulator.faults.queue(Fault(FaultKind.TIMEOUT))

    outcome = run_once(emulator, assess([tmp_path / "in"], Settings()), store, timeout=0.5)

    assert outcome.outcome == "completed"
    assert outcome.embedded == 2
    assert outcome.retries == 1


def test_a_wrong_vector_count_that_persists_fails_the_items_not_silently(
    tmp_path: Path, emulator: Emulator, store: Store
) -> None:
    photo_folder(tmp_path / "in", 3)
    emulator.faults.queue(Fault(FaultKind.WRONG_COUNT), count=10)

    outcome = run_once(emulator, assess([tmp_path / "in"], Settings()), store, max_attempts=2)

    assert outcome.embedded == 0
    assert len(outcome.failed) == 3
    assert all("vectors came back for 3 images" in m for m in outcome.failed.values())
    assert store_count(store) == 0, "nothing mis-aligned was stored"


def test_a_refused_image_is_isolated_and_the_rest_of_the_batch_is_embedded(
    tmp_path: Path, emulator: Emulator, store: Store
) -> None:
    photo_folder(tmp_path / "in", 49)
    poison = corrupt_data_png(tmp_path / "in" / "img0025-poison.png")
    result = assess([tmp_path / "in"], Settings())
    assert len(result.run_items()) == 50, "the client cannot tell the poison image apart"
    recorder = Recorder()

    outcome = run_once(emulator, result, store, recorder)

    assert outcome.outcome == "completed"
    assert outcome.embedded == 49
    failures = recorder.of(ItemFailed)
    assert [f.path for f in failures] == [str(poison)]
    assert "could not be decoded as PNG" in failures[0].message
    assert emulator.billed_images == 49, "nothing is billed twice while bisecting"


@pytest.mark.parametrize(
    ("switch", "status", "words"),
    [("payment_required", 402, "billing"), ("forbidden", 403, "may not")],
)
def test_billing_and_access_refusals_stop_the_run_at_once(
    tmp_path: Path, emulator: Emulator, store: Store, switch: str, status: int, words: str
) -> None:
    photo_folder(tmp_path / "in", 30)
    emulator.faults.update(**{switch: True})
    result = assess([tmp_path / "in"], Settings(model="embed-english-v3.0"))

    outcome = run_once(emulator, result, store, concurrency=2)

    assert outcome.outcome == "stopped"
    assert words in outcome.message
    assert f"({status})" in outcome.message
    assert len(embed_requests(emulator)) <= 2, "no request starts after the refusal"
    assert outcome.retries == 0


def test_a_refused_key_stops_before_anything_is_sent(
    tmp_path: Path, emulator: Emulator, store: Store
) -> None:
    photo_folder(tmp_path / "in", 3)
    emulator.set_keys({"the-only-good-key"})
    recorder = Recorder()

    outcome = run_once(emulator, assess([tmp_path / "in"], Settings()), store, recorder)

    assert outcome.outcome == "stopped"
    assert "API key was refused (401)" in outcome.message
    assert "invalid api token" in outcome.message, "the server's own words reach the user"
    assert embed_requests(emulator) == []
    assert len(list(emulator.requests)) == 1, "no retries of a 401"
    assert TEST_KEY not in outcome.message


def test_a_server_that_is_not_there_gives_a_clear_message(tmp_path: Path, store: Store) -> None:
    photo_folder(tmp_path / "in", 1)
    with Emulator() as emu:
        url = emu.base_url  # a port that was free a moment ago and is closed now

    outcome = run_once(url, assess([tmp_path / "in"], Settings()), store, max_attempts=2)

    assert outcome.outcome == "stopped"
    assert "Could not connect to the server" in outcome.message


def test_cancel_keeps_what_arrived_and_the_next_run_finishes_the_rest(
    tmp_path: Path, emulator: Emulator, store: Store
) -> None:
    photo_folder(tmp_path / "in", 12)
    emulator.faults.update(latency_ms=50)
    result = assess([tmp_path / "in"], Settings(model="embed-english-v3.0"))
    box: list[Runner] = []

    def cancel_after_three(event: Event) -> None:
        if isinstance(event, ItemsEmbedded) and box and store_count(store) >= 3:
            box[0].cancel()

    outcome = run_once(emulator, result, store, cancel_after_three, box, concurrency=1)

    assert outcome.outcome == "cancelled"
    assert 3 <= outcome.embedded < 12
    kept = outcome.embedded
    rest = run_once(emulator, result, store)
    assert rest.cached == kept
    assert rest.embedded == 12 - kept
    assert emulator.billed_images == 12


def store_count(store: Store) -> int:
    return sum(r.images for r in store.runs()) if store.runs() else 0


class FakeTime(threading.Event):
    """A clock that moves only when the pacer waits (an injected clock, not a patch)."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        self.now += timeout
        return False


def test_the_pacer_never_sends_more_than_the_limit_in_any_minute() -> None:
    time = FakeTime()
    pacer = Pacer(5, clock=time.clock)  # a trial key: 5 images a minute
    sent: list[float] = []

    for _ in range(12):
        assert pacer.acquire(1, time)
        sent.append(time.now)

    assert sent[:5] == [0.0] * 5, "a minute's allowance goes at once"
    assert sent[5:10] == [pytest.approx(60.0)] * 5
    assert sent[10:] == [pytest.approx(120.0)] * 2
    for start in sent:
        in_window = [t for t in sent if start <= t < start + 60]
        assert len(in_window) <= 5
    assert paced_seconds(12, 5) == pytest.approx(sent[-1]), "the announced time is the real one"


def test_the_pacer_waits_for_the_oldest_images_to_leave_the_window() -> None:
    time = FakeTime()
    pacer = Pacer(10, clock=time.clock)
    assert pacer.acquire(6, time)
    time.now = 30.0
    assert pacer.acquire(4, time)
    assert pacer.acquire(5, time), "needs the first six to age out"
    assert time.now == pytest.approx(60.0)


def test_the_pacer_gives_up_when_cancelled() -> None:
    pacer = Pacer(1)
    cancelled = threading.Event()
    assert pacer.acquire(1, cancelled)
    cancelled.set()
    assert not pacer.acquire(1, cancelled)


def test_the_plan_respects_a_small_rate_limit(
    tmp_path: Path, emulator: Emulator, store: Store
) -> None:
    photo_folder(tmp_path / "in", 6)
    settings = replace(Settings(), rate_limit=RateLimit.CUSTOM, custom_images_per_minute=600)
    result = assess([tmp_path / "in"], settings)
    recorder = Recorder()

    outcome = run_once(emulator, result, store, recorder)

    assert outcome.embedded == 6
    assert len(embed_requests(emulator)) == 1
    trial = replace(settings, rate_limit=RateLimit.TRIAL)
    planned = Runner(
        RunConfig(trial, TEST_KEY, parse_endpoint(emulator.base_url)), store
    )._plan_for(result.run_items())
    assert len(planned) == 2
    assert max(len(r.items) for r in planned) <= 5, "no request holds more than a minute's worth"
