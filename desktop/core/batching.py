"""Plan the fewest requests that respect the model's image count and the body-size bar."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from desktop.core.models import MAX_BODY_BYTES, ModelSpec, Settings
from desktop.core.payload import envelope_size


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One request of a plan.

    Attributes:
        items: indices (into the sizes given to :func:`plan_requests`) in ascending order.
        body_bytes: the exact size of the serialised JSON body.
    """

    items: tuple[int, ...]
    body_bytes: int

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of ``embed-studio check --json``."""
        return {"items": list(self.items), "body_bytes": self.body_bytes}


def plan_requests(
    sizes: Sequence[tuple[int, int]],
    settings: Settings,
    spec: ModelSpec,
    max_body: int = MAX_BODY_BYTES,
) -> list[PlannedRequest]:
    """Pack items into the fewest requests (best-fit decreasing on their serialised size).

    Args:
        sizes: ``(index, input_bytes)`` pairs, where ``input_bytes`` is what the item adds to a
            body (see :func:`desktop.core.payload.input_size`).
        settings: the run's settings (they shape the envelope).
        spec: the model's spec (images per request, request shape).
        max_body: the body-size bar.

    Each item, largest first, goes into the open request it fills most tightly; open requests
    are kept sorted by the room they have left, so planning takes n log n, not n squared. An
    input too large for any request still gets a request of its own, so nothing is silently
    dropped; its ``body_bytes`` then shows it is over the bar.
    """
    envelope = envelope_size(settings, spec)
    plan = _best_fit(sizes, envelope, spec.max_images_per_request, max_body)
    if len(plan) > 1:
        # Same number of requests, images spread evenly: requests sent side by side then
        # take about as long as each other, instead of one full request and a stray few.
        even = -(-len(sizes) // len(plan))
        if even < spec.max_images_per_request:
            balanced = _best_fit(sizes, envelope, even, max_body)
            if len(balanced) == len(plan):
                plan = balanced
    return plan


def _best_fit(
    sizes: Sequence[tuple[int, int]], envelope: int, limit: int, max_body: int
) -> list[PlannedRequest]:
    members: list[list[int]] = []
    totals: list[int] = []
    # (room left for one more input, its comma included, request number), kept sorted.
    open_rooms: list[tuple[int, int]] = []
    for index, size in sorted(sizes, key=lambda pair: (-pair[1], pair[0])):
        at = bisect.bisect_left(open_rooms, (size, -1))
        if at < len(open_rooms):
            n = open_rooms.pop(at)[1]
        else:
            n = len(members)
            members.append([])
            totals.append(0)
        members[n].append(index)
        totals[n] += size
        if len(members[n]) < limit:
            bisect.insort(open_rooms, (max_body - envelope - totals[n] - len(members[n]), n))
    plan = [
        PlannedRequest(tuple(sorted(items)), envelope + total + len(items) - 1)
        for items, total in zip(members, totals, strict=True)
    ]
    plan.sort(key=lambda r: r.items[0])
    return plan


def minimum_requests(sizes: Sequence[int], settings: Settings, spec: ModelSpec) -> int:
    """A lower bound on the number of requests (for tests and the plan's honesty)."""
    if not sizes:
        return 0
    by_count = -(-len(sizes) // spec.max_images_per_request)
    # A body of k inputs holds k - 1 commas: over R requests, sum + n - R <= R * room.
    room = MAX_BODY_BYTES - envelope_size(settings, spec)
    by_bytes = -(-(sum(sizes) + len(sizes)) // (room + 1))
    return max(by_count, by_bytes)
