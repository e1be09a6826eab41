"""Runs in a child process: the job and events on the wire, a real run, and cancelling it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from desktop.core.assess import assess
from desktop.core.endpoint import parse_endpoint
from desktop.core.images import probe_file
from desktop.core.models import RateLimit, Settings
from desktop.core.runner import ItemsEmbedded, Progress, RunConfig, RunItem, RunPlanned, RunResult
from desktop.core.store import Store
from desktop.emulator import Emulator
from desktop.workers.run_child import RUN_CHILD_COMMAND
from desktop.workers.run_wire import event_from_line, event_to_line, job_from_json, job_to_json
from desktop.workers.running import child_command
from tests.conftest import TEST_KEY
from tests.imagegen import photo_folder


def test_a_job_and_every_event_cross_the_wire_unchanged(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"not an image")
    settings = replace(
        Settings(model="embed-english-v3.0", embedding_types=("float", "int8")),
        rate_limit=RateLimit.CUSTOM,
        custom_images_per_minute=17,
    )
    config = RunConfig(settings, TEST_KEY, parse_endpoint("http://127.0.0.1:9/v2"), seed=3)
    items = (RunItem(probe_file(tmp_path / "broken.png"), "ab" * 32, 123),)

    assert job_from_json(job_to_json(config, items, tmp_path / "s.sqlite3")) == (
        config,
        items,
        tmp_path / "s.sqlite3",
    )
    for event in (
        RunPlanned(3, 1, 2, 60.0, True),
        ItemsEmbedded(("a", "b"), ("x.png", "y.png")),
        Progress(1, 0, 3, 1, 2, 0, 1.0, 5.0),
        RunResult(outcome="cancelled", embedded=2, failed={"c": "refused"}, emulated=True),
    ):
        assert event_from_line(event_to_line(event)) == event


def start_child(
    emulator: Emulator, tmp_path: Path, count: int, command: list[str] | None = None
) -> subprocess.Popen[bytes]:
    photo_folder(tmp_path / "in", count, 80, 60)
    settings = Settings(model="embed-english-v3.0")
    items = tuple(assess([tmp_path / "in"], settings).run_items())
    config = RunConfig(settings, TEST_KEY, parse_endpoint(emulator.base_url), concurrency=1)
    child = subprocess.Popen(
        command or child_command(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdin is not None
    child.stdin.write(job_to_json(config, items, tmp_path / "store.sqlite3"))
    child.stdin.flush()
    return child


def stored(tmp_path: Path) -> int:
    with Store(tmp_path / "store.sqlite3") as store:
        return sum(run.images for run in store.runs())


@pytest.mark.parametrize(
    "command",
    [None, [str(Path(sys.executable).with_name("embed-studio")), RUN_CHILD_COMMAND]],
    ids=["python -m", "frozen app's own command"],
)
def test_the_child_runs_the_job_and_ends_with_its_result(
    tmp_path: Path, command: list[str] | None
) -> None:
    with Emulator() as emulator:
        child = start_child(emulator, tmp_path, 3, command)
        assert child.stdout is not None
        assert child.stderr is not None
        lines = []
        for line in child.stdout:  # stdin stays open: closing it would cancel the run
            lines.append(line)
            if isinstance(event_from_line(line), RunResult):
                break
        assert child.stdin is not None
        child.stdin.close()
        out = b"".join(lines) + child.stdout.read()
        err = child.stderr.read()
        child.wait(timeout=60)
        child.stdout.close()
        child.stderr.close()

    events = [event_from_line(line) for line in out.splitlines()]
    assert child.returncode == 0, err
    assert isinstance(events[-1], RunResult)
    assert events[-1].outcome == "completed"
    assert events[-1].embedded == 3
    assert any(isinstance(e, ItemsEmbedded) for e in events)
    assert stored(tmp_path) == 3
    assert TEST_KEY.encode() not in out + err


def test_closing_the_childs_stdin_cancels_and_keeps_what_arrived(tmp_path: Path) -> None:
    with Emulator() as emulator:
        emulator.faults.update(latency_ms=200)
        child = start_child(emulator, tmp_path, 20)
        assert child.stdout is not None
        assert child.stdin is not None
        for line in child.stdout:
            if isinstance(event_from_line(line), ItemsEmbedded):
                break
        child.stdin.close()  # the window went away
        rest = child.stdout.read()
        child.wait(timeout=120)
        child.stdout.close()
        assert child.stderr is not None
        child.stderr.close()

    result = event_from_line(rest.splitlines()[-1])
    assert isinstance(result, RunResult)
    assert result.outcome == "cancelled"
    assert 1 <= result.embedded < 20
    assert stored(tmp_path) == result.embedded
    assert sys.executable in child_command()
