"""How long re-judging every item takes after a settings change (run by hand).

    .venv/bin/python tests/bench/bench_rules.py [--items 10000]

Builds realistic probes (a mix of formats, sizes, modes, animations and rotations), then times,
in one run: the baseline (judging every rule from scratch, as a first read does) and what the
app does on a settings change (the settings-independent findings are kept from the first read;
only the rules that read the settings are judged again), plus the request plan and request rules.
Target: well under 50 ms for 10,000 items.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from desktop.core.batching import plan_requests
from desktop.core.images import Probe
from desktop.core.models import Settings
from desktop.core.payload import input_size
from desktop.core.rules import RunShape, fixed_findings, judge_items, request_findings

SIZES = [(4000, 3000), (1920, 1080), (40, 40), (800, 600), (6000, 4000), (1568, 1568)]


def probes(count: int, seed: int = 0) -> list[Probe]:
    """*count* probes with a realistic spread of what people drop in."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        w, h = rng.choice(SIZES)
        out.append(
            Probe(
                path=f"photos/img{i:05d}.jpg",
                file_bytes=rng.randint(20_000, 8_000_000),
                sha256=f"{rng.getrandbits(256):064x}",
                format=rng.choice(["jpeg", "jpeg", "png", "webp", "gif", "bmp"]),
                extension=rng.choice(["jpg", "png"]),
                width=w,
                height=h,
                mode=rng.choice(["RGB", "RGB", "RGBA", "L", "CMYK", "P"]),
                frames=rng.choice([1, 1, 1, 4]),
                orientation=rng.choice([1, 1, 1, 6]),
            )
        )
    return out


def best_ms(func: Callable[[], object], repeat: int = 9) -> tuple[float, float]:
    """Best and median wall time of *func* in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    count = parser.parse_args().items
    items = probes(count)
    fixed = [fixed_findings(p) for p in items]
    v4, v3 = Settings(), Settings(model="embed-english-v3.0")
    spec = v4.spec
    assert spec is not None
    sizes = [
        (n, input_size("image/jpeg", p.file_bytes // 3, spec.shape)) for n, p in enumerate(items)
    ]

    base_best, base_median = best_ms(lambda: judge_items(items, v3))
    best, median = best_ms(lambda: judge_items(items, v4, fixed))
    plan_best, _ = best_ms(lambda: plan_requests(sizes, v4, spec))
    rules_best, _ = best_ms(lambda: request_findings(v4, RunShape(count, 100)))

    print(f"{count:,} items")
    print(f"  baseline, every rule from scratch : {base_best:7.1f} ms (median {base_median:.1f})")
    print(f"  settings change (kept + re-judged): {best:7.1f} ms (median {median:.1f})")
    print(f"  ratio baseline / settings change  : {base_best / best:7.1f} x")
    print(f"  request plan (best-fit decreasing): {plan_best:7.1f} ms")
    print(f"  request rules                     : {rules_best:7.3f} ms")
    print(f"  settings change + plan            : {best + plan_best:7.1f} ms (target < 50 ms)")


if __name__ == "__main__":
    main()
