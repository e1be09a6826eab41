"""Several app instances on one store at once: nothing locked out, nothing lost or doubled.

Two ``embed-studio embed`` commands and the window's run process (``run_child``, as a window
starts it) embed overlapping sets of images into the same store at the same time, one image
per request so that their write transactions interleave hundreds of times. Every instance must
finish without "database is locked", the store must hold each image exactly once with the
vector its bytes get, and each instance's export must hold every one of its images.
"""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path
from typing import Final

from desktop.core.assess import assess
from desktop.core.endpoint import parse_endpoint
from desktop.core.models import RateLimit, Settings
from desktop.core.runner import RunConfig, RunResult
from desktop.core.store import STORE_FILE_NAME, Store
from desktop.emulator import Emulator
from desktop.workers.run_wire import event_from_line, job_to_json
from desktop.workers.running import child_command
from tests.conftest import TEST_KEY
from tests.imagegen import distinct_jpegs, photo_folder
from tests.reliability.support import (
    RUN_TIMEOUT,
    assert_vectors_are_the_emulators,
    child_env,
    embed_command,
    integrity,
    rows_per_key,
    sha256_of,
)

MODEL: Final = "embed-english-light-v3.0"


def image_sets(root: Path) -> dict[str, list[Path]]:
    """Images every instance sends, and images only one instance sends."""
    shared = photo_folder(root / "shared", 30, 64, 56) + distinct_jpegs(root / "shared", 90)
    return {
        "shared": shared,
        "one": photo_folder(root / "one", 40, 80, 56),
        "two": photo_folder(root / "two", 40, 72, 56),
        "window": photo_folder(root / "window", 40, 64, 64),
    }


def test_three_instances_embed_overlapping_images_into_one_store(tmp_path: Path) -> None:
    sets = image_sets(tmp_path / "in")
    data = tmp_path / "data"
    store_path = data / STORE_FILE_NAME
    settings = Settings(
        model=MODEL, rate_limit=RateLimit.CUSTOM, custom_images_per_minute=1_000_000
    )
    with Emulator() as emulator:
        # Slow enough answers that the three runs overlap for seconds.
        emulator.faults.update(latency_ms=15.0)
        env = child_env(data)
        window_items = assess(
            [tmp_path / "in" / "shared", tmp_path / "in" / "window"], settings
        ).run_items()
        window_job = job_to_json(
            RunConfig(settings, TEST_KEY, parse_endpoint(emulator.base_url), concurrency=4),
            tuple(window_items),
            store_path,
        )
        commands = {
            name: embed_command(
                tmp_path / "in" / "shared",
                tmp_path / "in" / name,
                "--out",
                tmp_path / f"{name}.csv",
                "--model",
                MODEL,
                "--base-url",
                emulator.base_url,
                "--concurrency",
                "4",
            )
            for name in ("one", "two")
        }
        procs = {
            name: subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for name, command in commands.items()
        }
        procs["window"] = subprocess.Popen(
            child_command(),
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        window = procs["window"]
        assert window.stdin is not None
        assert window.stdout is not None
        window.stdin.write(window_job)
        window.stdin.flush()
        # The window's run process reads "cancel" or the end of its input as a cancel: its
        # input stays open until it has said how the run ended.
        window_lines = []
        for line in window.stdout:
            window_lines.append(line)
            if isinstance(event_from_line(line), RunResult):
                break
        window.stdin.close()
        outputs = {
            name: proc.communicate(timeout=RUN_TIMEOUT)
            for name, proc in procs.items()
            if name != "window"
        }
        assert window.stderr is not None
        outputs["window"] = (window.stdout.read(), window.stderr.read())
        window.stdout.close()
        window.stderr.close()
        window.wait(RUN_TIMEOUT)
        base_url = emulator.base_url
        billed = emulator.ledger.billed_by_sha256()

    for name, (_out, err) in outputs.items():
        text = err.decode("utf-8", "replace")
        assert procs[name].returncode == 0, (name, text)
        assert "locked" not in text, (name, text)
        assert "Traceback" not in text, (name, text)
    result = event_from_line(window_lines[-1])
    assert isinstance(result, RunResult)
    assert result.outcome == "completed", result.message
    assert not result.failed

    everything = [path for paths in sets.values() for path in paths]
    sent = {sha256_of(path): path.read_bytes() for path in everything}
    assert len(sent) == len(everything), "the images are distinct"
    assert integrity(store_path) == "ok"
    per_key = rows_per_key(store_path)
    assert {key[0] for key in per_key} == set(sent)
    assert set(per_key.values()) == {1}, "no image is stored twice"
    with Store(store_path, read_only=True) as store:
        assert_vectors_are_the_emulators(store, sent, settings, base_url)
        runs = store.runs()
    assert [run.status for run in runs] == ["completed"] * 3
    starts = sorted(run.started for run in runs)
    ends = sorted(run.finished or "" for run in runs)
    assert starts[-1] < ends[0], "the three runs were all under way at one moment"
    assert set(billed) == set(sent), "every image was paid for"
    # Each instance sends what it did not find stored when it started: the shared images may
    # be paid for up to three times, the others once.
    shared = {sha256_of(path) for path in sets["shared"]}
    assert all(count == 1 for sha, count in billed.items() if sha not in shared)
    assert all(1 <= billed[sha] <= 3 for sha in shared)

    for name in ("one", "two"):
        with (tmp_path / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
            written = [row["sha256"] for row in csv.DictReader(handle)]
        want = [sha256_of(path) for path in sets["shared"] + sets[name]]
        assert sorted(written) == sorted(want), name
