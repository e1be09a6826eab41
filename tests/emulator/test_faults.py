"""Injected faults, as the real SDK experiences them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import cohere
import httpx
import pytest
from cohere.core.api_error import ApiError

from desktop.emulator import Emulator, Fault, FaultKind, FaultPlan, FaultSettings, Outcome
from tests.emulator.helpers import check_key, data_url, image_input, rows

V4 = "embed-v4.0"


def _embed_images(
    client: cohere.ClientV2, data: bytes, count: int = 1, **options: Any
) -> cohere.EmbedByTypeResponse:
    return client.embed(
        model=V4,
        input_type="search_document",
        inputs=[image_input(data_url(data, "image/png"))] * count,
        embedding_types=["float"],
        **options,
    )


def _wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        threading.Event().wait(0.01)


def test_throttle_sends_429_with_retry_after(
    emulator: Emulator, client: cohere.ClientV2, png_bytes: bytes
) -> None:
    emulator.faults.queue(Fault(FaultKind.THROTTLE, retry_after=7))

    with pytest.raises(cohere.TooManyRequestsError) as caught:
        _embed_images(client, png_bytes)

    assert caught.value.status_code == 429
    assert caught.value.headers is not None
    assert caught.value.headers["retry-after"] == "7"
    assert "per minute request limit" in caught.value.body["message"]
    (record,) = emulator.requests
    assert (record.outcome, record.retry_after, record.billed_images) == (Outcome.THROTTLED, 7, 0)
    assert record.images == 1  # the body was judged, so the record says what was in it


def test_the_sdk_honours_retry_after(emulator: Emulator, png_bytes: bytes) -> None:
    emulator.faults.queue(Fault(FaultKind.THROTTLE, retry_after=1))

    with cohere.ClientV2(api_key="k", base_url=emulator.base_url, max_retries=1) as co:
        response = _embed_images(co, png_bytes)

    assert rows(response).shape == (1, 1536)
    throttled, served = emulator.requests
    assert (throttled.outcome, served.outcome) == (Outcome.THROTTLED, Outcome.OK)
    assert served.received_at - throttled.received_at >= 1.0
    assert emulator.billed_images == 1


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (500, cohere.InternalServerError),
        (502, ApiError),
        (503, cohere.ServiceUnavailableError),
    ],
)
def test_server_errors(
    emulator: Emulator,
    client: cohere.ClientV2,
    png_bytes: bytes,
    status: int,
    error_class: type[ApiError],
) -> None:
    emulator.faults.queue(Fault(FaultKind.SERVER_ERROR, status=status))

    with pytest.raises(error_class) as caught:
        _embed_images(client, png_bytes)

    assert caught.value.status_code == status
    assert caught.value.body["message"]
    assert emulator.requests[0].outcome == Outcome.SERVER_ERROR
    assert emulator.billed_images == 0


def test_queued_faults_are_used_in_order_then_requests_succeed(
    emulator: Emulator, client: cohere.ClientV2, png_bytes: bytes
) -> None:
    emulator.faults.queue(Fault(FaultKind.SERVER_ERROR, status=500), count=2)
    emulator.faults.queue(FaultKind.THROTTLE)

    statuses = []
    for _ in range(4):
        try:
            _embed_images(client, png_bytes)
            statuses.append(200)
        except ApiError as error:
            statuses.append(error.status_code or 0)

    assert statuses == [500, 500, 429, 200]
    assert emulator.faults.queued == 0


def test_malformed_json_makes_the_sdk_raise(
    emulator: Emulator, client: cohere.ClientV2, png_bytes: bytes
) -> None:
    emulator.faults.queue(FaultKind.MALFORMED_JSON)

    with pytest.raises(ApiError) as caught:
        _embed_images(client, png_bytes)

    assert caught.value.status_code == 200
    assert isinstance(caught.value.body, str)
    assert caught.value.body.startswith('{"id":')
    # The server did the work, so it billed it: the client must not assume otherwise.
    assert emulator.billed_images == 1
    assert emulator.requests[0].outcome == Outcome.MALFORMED_JSON


@pytest.mark.parametrize("extra", [-1, 1])
def test_wrong_vector_count_passes_through_the_sdk(
    emulator: Emulator, client: cohere.ClientV2, png_bytes: bytes, extra: int
) -> None:
    emulator.faults.queue(Fault(FaultKind.WRONG_COUNT, extra_vectors=extra))

    response = client.embed(
        model=V4,
        input_type="search_document",
        inputs=[image_input(data_url(png_bytes, "image/png"))] * 3,
        embedding_types=["float", "base64"],
    )

    assert len(rows(response)) == 3 + extra
    assert len(response.embeddings.base64 or []) == 3 + extra
    assert len(response.images or []) == 3
    assert emulator.requests[0].outcome == Outcome.WRONG_COUNT


def test_timeout_raises_in_the_sdk_and_close_is_not_held_up(png_bytes: bytes) -> None:
    emulator = Emulator(faults=FaultPlan(FaultSettings(hold_seconds=600))).start()
    try:
        emulator.faults.queue(FaultKind.TIMEOUT)
        with (
            cohere.ClientV2(
                api_key="k", base_url=emulator.base_url, max_retries=0, timeout=0.5
            ) as co,
            pytest.raises(httpx.ReadTimeout),
        ):
            _embed_images(co, png_bytes)
        assert emulator.requests[0].outcome == Outcome.TIMEOUT
    finally:
        closer = threading.Thread(target=emulator.close)
        closer.start()
        closer.join(timeout=10)
    assert not closer.is_alive(), "close() waited for the held request"
    assert not any(t.name == "emulator-connection" for t in threading.enumerate())


def test_close_wakes_a_request_still_held(png_bytes: bytes) -> None:
    emulator = Emulator(faults=FaultPlan(FaultSettings(hold_seconds=600))).start()
    emulator.faults.queue(FaultKind.TIMEOUT)
    errors: list[BaseException] = []

    def call() -> None:
        with cohere.ClientV2(
            api_key="k", base_url=emulator.base_url, max_retries=0, timeout=60
        ) as co:
            try:
                _embed_images(co, png_bytes)
            except (httpx.TransportError, ApiError) as error:
                errors.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    _wait_until(lambda: len(emulator.requests) == 1)
    closer = threading.Thread(target=emulator.close)
    closer.start()
    closer.join(timeout=10)
    caller.join(timeout=10)

    assert not closer.is_alive()
    assert not caller.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], httpx.RemoteProtocolError)


def test_disconnect_raises_remote_protocol_error(
    emulator: Emulator, client: cohere.ClientV2, png_bytes: bytes
) -> None:
    emulator.faults.queue(FaultKind.DISCONNECT)

    with pytest.raises(httpx.RemoteProtocolError):
        _embed_images(client, png_bytes)

    assert emulator.requests[0].status is None
    assert emulator.requests[0].outcome == Outcome.DISCONNECTED
    assert rows(_embed_images(client, png_bytes)).shape == (1, 1536)


def test_the_sdk_retries_a_disconnect_only_when_asked(emulator: Emulator, png_bytes: bytes) -> None:
    emulator.faults.queue(FaultKind.DISCONNECT)

    with cohere.ClientV2(api_key="k", base_url=emulator.base_url, max_retries=1) as co:
        response = _embed_images(
            co, png_bytes, request_options={"retry_remote_protocol_errors": True}
        )

    assert rows(response).shape == (1, 1536)
    assert [r.outcome for r in emulator.requests] == [Outcome.DISCONNECTED, Outcome.OK]


def test_rate_limit_counts_images_in_a_sliding_window(png_bytes: bytes) -> None:
    plan = FaultPlan(FaultSettings(images_per_minute=4))
    with (
        Emulator(faults=plan) as emulator,
        cohere.ClientV2(api_key="k", base_url=emulator.base_url, max_retries=0) as co,
    ):
        _embed_images(co, png_bytes, count=3)
        with pytest.raises(cohere.TooManyRequestsError) as caught:
            _embed_images(co, png_bytes, count=2)
        _embed_images(co, png_bytes, count=1)

    assert caught.value.headers is not None
    retry_after = int(caught.value.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert "4 images per minute" in caught.value.body["message"]
    assert [r.outcome for r in emulator.requests] == [
        Outcome.OK,
        Outcome.RATE_LIMITED,
        Outcome.OK,
    ]
    assert emulator.billed_images == 4


def test_rate_limited_requests_succeed_after_waiting_retry_after(png_bytes: bytes) -> None:
    plan = FaultPlan(FaultSettings(images_per_minute=2, window_seconds=1.0))
    with (
        Emulator(faults=plan) as emulator,
        cohere.ClientV2(api_key="k", base_url=emulator.base_url, max_retries=2) as co,
    ):
        _embed_images(co, png_bytes, count=2)
        _embed_images(co, png_bytes, count=1)

    _, limited, *later = emulator.requests
    assert limited.outcome == Outcome.RATE_LIMITED
    assert limited.retry_after is not None
    assert later[-1].outcome == Outcome.OK
    assert later[0].received_at - limited.received_at >= limited.retry_after
    assert emulator.billed_images == 3


def test_random_failures_follow_the_seed() -> None:
    def outcomes(seed: int) -> list[str | None]:
        plan = FaultPlan(FaultSettings(fail_rate=0.3, throttle_rate=0.3, seed=seed))
        return [
            None if (fault := plan.next_fault()) is None else f"{fault.kind}:{fault.status}"
            for _ in range(200)
        ]

    first = outcomes(7)
    assert first == outcomes(7)
    assert first != outcomes(8)
    kinds = {o.split(":")[0] if o else None for o in first}
    assert kinds == {None, "server_error", "throttle"}
    statuses = {o for o in first if o and o.startswith("server_error")}
    assert statuses == {"server_error:500", "server_error:502", "server_error:503"}


def test_fail_rate_one_fails_every_request(
    emulator: Emulator, client: cohere.ClientV2, png_bytes: bytes
) -> None:
    emulator.faults.update(fail_rate=1.0, seed=1)

    for _ in range(3):
        with pytest.raises(ApiError) as caught:
            _embed_images(client, png_bytes)
        assert caught.value.status_code in (500, 502, 503)


def test_checking_a_key_uses_no_fault(
    emulator: Emulator, client: cohere.ClientV2, png_bytes: bytes
) -> None:
    emulator.faults.queue(FaultKind.THROTTLE)

    checked = check_key(client)

    assert checked.valid is True
    assert checked.organization_id
    assert checked.owner_id
    with pytest.raises(cohere.TooManyRequestsError):
        _embed_images(client, png_bytes)


def test_latency_settings_give_the_delay() -> None:
    plan = FaultPlan(FaultSettings(latency_ms=20, per_image_ms=5))

    assert plan.delay_seconds(0) == pytest.approx(0.020)
    assert plan.delay_seconds(4) == pytest.approx(0.040)


def test_requests_still_succeed_with_latency(
    emulator: Emulator, client: cohere.ClientV2, png_bytes: bytes
) -> None:
    emulator.faults.update(latency_ms=30, per_image_ms=10)

    response = _embed_images(client, png_bytes, count=2)

    assert rows(response).shape == (2, 1536)


@pytest.mark.parametrize(
    "settings",
    [
        {"fail_rate": 1.5},
        {"throttle_rate": -0.1},
        {"latency_ms": -1},
        {"images_per_minute": 0},
        {"window_seconds": 0},
    ],
)
def test_impossible_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must|cannot"):
        FaultSettings(**settings)
    with pytest.raises(ValueError, match=r"must|cannot"):
        FaultPlan().update(**settings)


def test_impossible_faults_are_refused() -> None:
    with pytest.raises(ValueError, match="5xx"):
        Fault(FaultKind.SERVER_ERROR, status=404)
    with pytest.raises(ValueError, match="non-zero"):
        Fault(FaultKind.WRONG_COUNT, extra_vectors=0)
