"""The request plan: every item once, within 96 images and 20,000,000 bytes, in few requests."""

from __future__ import annotations

import math
import os
import random
from collections.abc import Sequence

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from desktop.core.batching import PlannedRequest, minimum_requests, plan_requests
from desktop.core.models import MAX_BODY_BYTES, MODELS, ModelSpec, RequestShape, Settings
from desktop.core.payload import (
    body_json,
    body_size,
    data_url,
    embed_kwargs,
    envelope_size,
    input_size,
)

V4 = Settings()
SPEC4 = MODELS["embed-v4.0"]
ENVELOPE = envelope_size(V4, SPEC4)
#: The largest input that fits in a request on its own.
ROOM = MAX_BODY_BYTES - ENVELOPE
V3_MODELS = [name for name, spec in MODELS.items() if spec.shape is RequestShape.IMAGES]


def _pairs(sizes: Sequence[int], first: int = 0, step: int = 1) -> list[tuple[int, int]]:
    return [(first + step * n, size) for n, size in enumerate(sizes)]


def check_plan(
    plan: Sequence[PlannedRequest],
    pairs: Sequence[tuple[int, int]],
    s: Settings = V4,
    spec: ModelSpec = SPEC4,
) -> None:
    """Every item exactly once, sizes exact, limits kept (an oversized item goes alone)."""
    size_of = dict(pairs)
    envelope = envelope_size(s, spec)
    placed = [index for request in plan for index in request.items]
    assert sorted(placed) == sorted(size_of), "an item is missing or placed twice"
    for request in plan:
        assert list(request.items) == sorted(request.items)
        assert 1 <= len(request.items) <= spec.max_images_per_request
        assert request.body_bytes == body_size(envelope, [size_of[i] for i in request.items])
        if request.body_bytes > MAX_BODY_BYTES:
            assert len(request.items) == 1, "an oversized item must travel alone"
    firsts = [r.items[0] for r in plan]
    assert firsts == sorted(firsts)


def next_fit_decreasing(sizes: Sequence[int], spec: ModelSpec, envelope: int) -> int:
    """Requests next-fit needs on the same decreasing order.

    Best fit, like any rule that opens a request only when no open one has room, never needs more.
    """
    count, total, items = 0, 0, 0
    for size in sorted(sizes, reverse=True):
        fits = (
            count > 0
            and items < spec.max_images_per_request
            and envelope + total + items + size <= MAX_BODY_BYTES
        )
        if fits:
            total, items = total + size, items + 1
        else:
            count, total, items = count + 1, size, 1
    return count


def first_fit_guarantee(sizes: Sequence[int], envelope: int) -> int:
    """At most this many requests for any first- or best-fit plan of items that each fit alone.

    With each input costing its size plus one comma, a request holds ``MAX - envelope + 1``
    of them; such a plan opens a new request only when every open one is fuller than that minus
    the largest item, so (count - 1) * (capacity - largest) < total.
    """
    capacity = MAX_BODY_BYTES - envelope + 1
    costs = [s + 1 for s in sizes]
    return math.ceil(sum(costs) / (capacity - max(costs)))


# --------------------------------------------------------------------------------------------
# The image count


def test_200_small_images_on_embed_v4_take_3_requests() -> None:
    size = input_size("image/jpeg", 20_000, RequestShape.INPUTS)
    pairs = _pairs([size] * 200)
    plan = plan_requests(pairs, V4, SPEC4)
    check_plan(plan, pairs)
    assert sorted(len(r.items) for r in plan) == [66, 67, 67], "spread evenly, not 96+96+8"
    assert len(plan) == minimum_requests([size] * 200, V4, SPEC4) == 3


def test_exactly_96_images_take_one_request_and_97_take_two() -> None:
    size = input_size("image/png", 1_000, RequestShape.INPUTS)
    assert len(plan_requests(_pairs([size] * 96), V4, SPEC4)) == 1
    assert len(plan_requests(_pairs([size] * 97), V4, SPEC4)) == 2


@pytest.mark.parametrize("model", V3_MODELS)
def test_v3_models_take_one_image_per_request(model: str) -> None:
    s, spec = Settings(model=model), MODELS[model]
    sizes = [input_size("image/jpeg", n * 1_000, RequestShape.IMAGES) for n in range(1, 8)]
    pairs = _pairs(sizes)
    plan = plan_requests(pairs, s, spec)
    check_plan(plan, pairs, s, spec)
    assert [r.items for r in plan] == [(n,) for n in range(7)]
    assert minimum_requests(sizes, s, spec) == 7


def test_indices_are_the_callers_not_positions() -> None:
    pairs = [(5, 1_000), (9, 2_000), (2, 3_000)]
    plan = plan_requests(pairs, V4, SPEC4)
    check_plan(plan, pairs)
    assert [r.items for r in plan] == [(2, 5, 9)]


def test_nothing_to_send_plans_nothing() -> None:
    assert plan_requests([], V4, SPEC4) == []
    assert minimum_requests([], V4, SPEC4) == 0


def test_an_item_too_large_for_any_request_travels_alone_and_shows_it() -> None:
    pairs = _pairs([1_000, ROOM + 1, 2_000])
    plan = plan_requests(pairs, V4, SPEC4)
    check_plan(plan, pairs)
    assert [r.items for r in plan] == [(0, 2), (1,)]
    assert plan[1].body_bytes == MAX_BODY_BYTES + 1


# --------------------------------------------------------------------------------------------
# The byte bar, with realistic inputs


def _realistic_sizes(n: int, seed: int) -> list[tuple[int, int]]:
    """(image bytes, input bytes) of *n* camera-like JPEGs of 0.45 to 0.75 MB: ~0.8 MB inputs."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        nbytes = rng.randint(450_000, 750_000)
        out.append((nbytes, input_size("image/jpeg", nbytes, RequestShape.INPUTS)))
    return out


@pytest.mark.parametrize(("n", "seed"), [(25, 1), (60, 2), (150, 3), (300, 4), (1000, 5)])
def test_realistic_inputs_fill_few_requests_within_the_bar(n: int, seed: int) -> None:
    sizes = [size for _nbytes, size in _realistic_sizes(n, seed)]
    pairs = _pairs(sizes)
    plan = plan_requests(pairs, V4, SPEC4)
    check_plan(plan, pairs)
    assert all(r.body_bytes <= MAX_BODY_BYTES for r in plan)
    bound = minimum_requests(sizes, V4, SPEC4)
    guarantee = first_fit_guarantee(sizes, ENVELOPE)
    assert bound <= len(plan) <= guarantee
    assert len(plan) <= next_fit_decreasing(sizes, SPEC4, ENVELOPE)
    if guarantee == bound:
        assert len(plan) == bound


def test_planned_body_bytes_are_the_bytes_of_the_real_bodies() -> None:
    """Build every planned body from real data URLs: its length is the planned one."""
    realistic = _realistic_sizes(30, seed=6)
    pairs = _pairs([size for _nbytes, size in realistic])
    plan = plan_requests(pairs, V4, SPEC4)
    assert len(plan) >= 2, "the test needs the bar to split the run"
    urls = [data_url("image/jpeg", os.urandom(nbytes)) for nbytes, _size in realistic]
    for request in plan:
        body = body_json(embed_kwargs(V4, SPEC4, [urls[i] for i in request.items]))
        assert len(body) == request.body_bytes <= MAX_BODY_BYTES


# --------------------------------------------------------------------------------------------
# Any sizes

_sizes = st.one_of(
    st.integers(1, 5_000),
    st.integers(500_000, 1_300_000),
    st.integers(6_000_000, 7_000_000),
    st.integers(ROOM - 3, ROOM + 3),
)


@settings(max_examples=300, deadline=None)
@given(sizes=st.lists(_sizes, max_size=250))
@example(sizes=[ROOM])
@example(sizes=[ROOM + 1, ROOM, 1])
def test_every_item_once_and_every_body_within_the_bar(sizes: list[int]) -> None:
    pairs = _pairs(sizes)
    plan = plan_requests(pairs, V4, SPEC4)
    check_plan(plan, pairs)
    for request in plan:
        alone = body_size(ENVELOPE, [sizes[i] for i in request.items[:1]])
        assert request.body_bytes <= MAX_BODY_BYTES or alone > MAX_BODY_BYTES
    assert len(plan) <= next_fit_decreasing(sizes, SPEC4, ENVELOPE)


_third = ROOM // 3


@settings(max_examples=300, deadline=None)
@given(sizes=st.lists(_sizes.filter(lambda s: s <= ROOM), max_size=250))
@example(sizes=[ROOM])
@example(sizes=[_third, _third, ROOM - 2 * _third - 2])
def test_the_plan_never_needs_fewer_requests_than_the_lower_bound(sizes: list[int]) -> None:
    """Three 5 MB images whose body is exactly 20,000,000 bytes fit one request; the bound
    must not claim two."""
    plan = plan_requests(_pairs(sizes), V4, SPEC4)
    assert len(plan) >= minimum_requests(sizes, V4, SPEC4), [r.body_bytes for r in plan]
