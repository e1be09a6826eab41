"""Plan the fewest requests that respect the model's image count and the body-size bar."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from desktop.core.models import MAX_BODY_BYTES, ModelSpec, Settings
from desktop.core.payload import body_size, envelope_size


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


@dataclass(slots=True)
class _Bin:
    items: list[int]
    sizes: list[int]
    total: int


def plan_requests(
    sizes: Sequence[tuple[int, int]],
    settings: Settings,
    spec: ModelSpec,
    max_body: int = MAX_BODY_BYTES,
) -> list[PlannedRequest]:
    """Pack items into the fewest requests (first-fit decreasing on their serialised size).

    Args:
        sizes: ``(index, input_bytes)`` pairs, where ``input_bytes`` is what the item adds to a
            body (see :func:`desktop.core.payload.input_size`).
        settings: the run's settings (they shape the envelope).
        spec: the model's spec (images per request, request shape).
        max_body: the body-size bar.

    An input too large for any request still gets a request of its own, so nothing is silently
    dropped; its ``body_bytes`` then shows it is over the bar.
    """
    envelope = envelope_size(settings, spec)
    limit = spec.max_images_per_request
    bins: list[_Bin] = []
    for index, size in sorted(sizes, key=lambda pair: (-pair[1], pair[0])):
        for b in bins:
            if len(b.items) < limit and envelope + b.total + size + len(b.items) <= max_body:
                b.items.append(index)
                b.sizes.append(size)
                b.total += size
                break
        else:
            bins.append(_Bin([index], [size], size))
    plan = [PlannedRequest(tuple(sorted(b.items)), body_size(envelope, b.sizes)) for b in bins]
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
