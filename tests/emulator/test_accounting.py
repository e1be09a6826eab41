"""The emulator's books: every request recorded, every billed image counted once per billing."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import cohere
import pytest

from desktop.emulator import Emulator, FaultKind, Outcome
from tests.emulator.helpers import data_url, image_input
from tests.imagegen import encoded, photo


def _images(count: int) -> list[bytes]:
    return [encoded(photo(60, 60, seed=seed), "PNG") for seed in range(count)]


def _embed(co: cohere.ClientV2, images: list[bytes]) -> None:
    co.embed(
        model="embed-v4.0",
        input_type="search_document",
        inputs=[image_input(data_url(data, "image/png")) for data in images],
        embedding_types=["float"],
    )


def test_every_request_is_recorded_in_order(emulator: Emulator, client: cohere.ClientV2) -> None:
    images = _images(3)
    _embed(client, images[:2])
    emulator.faults.queue(FaultKind.THROTTLE)
    with pytest.raises(cohere.TooManyRequestsError):
        _embed(client, images[2:])
    _embed(client, images[2:])

    records = emulator.requests
    assert [r.outcome for r in records] == [Outcome.OK, Outcome.THROTTLED, Outcome.OK]
    assert [r.status for r in records] == [200, 429, 200]
    assert [r.images for r in records] == [2, 1, 1]
    assert [r.billed_images for r in records] == [2, 0, 1]
    assert records[0].image_sha256 == tuple(hashlib.sha256(d).hexdigest() for d in images[:2])
    assert [r.received_at for r in records] == sorted(r.received_at for r in records)
    assert {r.path for r in records} == {"/v2/embed"}
    assert emulator.billed_images == 3
    assert set(emulator.ledger.billed_by_sha256().values()) == {1}


def test_an_image_sent_twice_is_billed_twice(emulator: Emulator, client: cohere.ClientV2) -> None:
    (image,) = _images(1)

    _embed(client, [image, image])

    digest = hashlib.sha256(image).hexdigest()
    assert emulator.ledger.billed_by_sha256() == {digest: 2}


def test_concurrent_requests_are_all_counted(emulator: Emulator) -> None:
    images = _images(16)

    def send(chunk: list[bytes]) -> None:
        with cohere.ClientV2(api_key="k", base_url=emulator.base_url, max_retries=0) as co:
            _embed(co, chunk)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, [images[i : i + 2] for i in range(0, 16, 2)]))

    assert len(emulator.requests) == 8
    assert emulator.billed_images == 16
    assert sorted(emulator.ledger.billed_by_sha256()) == sorted(
        hashlib.sha256(d).hexdigest() for d in images
    )


def test_clearing_the_ledger_forgets_everything(
    emulator: Emulator, client: cohere.ClientV2
) -> None:
    _embed(client, _images(1))

    emulator.ledger.clear()

    assert emulator.requests == []
    assert emulator.billed_images == 0
