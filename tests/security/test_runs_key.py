"""Runs in this process and in the run's child process, logged at DEBUG: the key stays inside.

The runner is driven through success, a refused key (401), a server quoting the key back in
its errors (400 and 503), and a cancel in the middle; every event, the result, every log
record (httpx and httpcore included) and every file the store wrote are scanned. The
exceptions the SDK raises on a run's paths are checked too: neither their message, their
``repr``, their ``args`` nor their printed traceback may hold the key.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cohere
import httpx
import pytest
from cohere.base_client import BaseCohere

from desktop.core.assess import assess
from desktop.core.endpoint import parse_endpoint
from desktop.core.keys import mask
from desktop.core.models import RateLimit, Settings
from desktop.core.retry import judge, server_message
from desktop.core.runner import Event, ItemsEmbedded, RunConfig, RunItem, Runner, RunResult
from desktop.core.store import Store
from desktop.emulator import Emulator, Fault, FaultKind
from desktop.workers.run_child import CANCEL
from desktop.workers.run_wire import event_from_line, job_to_json
from tests.conftest import TEST_KEY
from tests.imagegen import photo_folder
from tests.secrets_check import files_containing
from tests.security.conftest import EchoServer, Home, assert_no_leak

#: Three images a minute: the first request goes at once, the rest wait for the pacer.
PACED = Settings(rate_limit=RateLimit.CUSTOM, custom_images_per_minute=3)


def items(folder: Path, count: int, settings: Settings) -> list[RunItem]:
    photo_folder(folder, count, 48, 40)
    return assess([folder], settings).run_items()


def run_logged(
    base_url: str,
    store_path: Path,
    run_items: list[RunItem],
    settings: Settings,
    on_event: Callable[[Runner, Event], None] = lambda _runner, _event: None,
    **config: Any,
) -> tuple[RunResult, list[Event]]:
    events: list[Event] = []
    run_config = RunConfig(
        settings, TEST_KEY, parse_endpoint(base_url), timeout=10, seed=1, **config
    )

    def record(event: Event) -> None:
        events.append(event)
        on_event(runner, event)

    with Store(store_path) as store:
        runner = Runner(run_config, store, record)
        result = runner.run(run_items)
    for event in events:
        assert_no_leak(repr(event), f"the event {type(event).__name__}")
    assert_no_leak(repr(result), "the run's result")
    assert not files_containing(store_path.parent, TEST_KEY), "the store holds the key"
    return result, events


def cancel_after_first_answer(runner: Runner, event: Event) -> None:
    if isinstance(event, ItemsEmbedded):
        runner.cancel()


def test_a_run_a_refused_key_and_a_cancel_at_debug_level(
    home: Home, debug_logs: pytest.LogCaptureFixture, emulator: Emulator, tmp_path: Path
) -> None:
    store_path = home.data / "store.sqlite3"
    home.data.mkdir(parents=True)
    run_items = items(tmp_path / "in", 6, PACED)

    result, _ = run_logged(
        emulator.base_url, store_path, run_items, PACED, cancel_after_first_answer
    )
    assert (result.outcome, result.embedded) == ("cancelled", 3)

    result, _ = run_logged(emulator.base_url, store_path, run_items, Settings())
    assert (result.outcome, result.embedded, result.cached) == ("completed", 3, 3)

    emulator.set_keys({"another-key"})
    result, _ = run_logged(emulator.base_url, store_path, items(tmp_path / "more", 2, PACED), PACED)
    assert result.outcome == "stopped"
    assert "invalid api token" in result.message

    # Not a vacuous scan: httpcore logged each request at DEBUG.
    assert any(r.name.startswith("httpcore") for r in debug_logs.records)
    home.assert_key_written_nowhere()


@pytest.mark.parametrize("status", [400, 403, 503])
def test_a_server_quoting_the_key_back_has_it_masked_everywhere(
    debug_logs: pytest.LogCaptureFixture, tmp_path: Path, status: int
) -> None:
    echo = EchoServer(status)
    try:
        result, events = run_logged(
            echo.base_url,
            tmp_path / "store.sqlite3",
            items(tmp_path / "in", 2, Settings()),
            Settings(),
            max_attempts=2,
        )
    finally:
        echo.close()

    words = [result.message, *result.failed.values(), *(repr(e) for e in events)]
    assert any(mask(TEST_KEY) in w for w in words), "the server's words, the key masked"
    assert result.outcome == ("stopped" if status == 403 else "completed")


def test_the_servers_words_cut_to_length_keep_no_part_of_the_key() -> None:
    # Wherever the 400-character cut falls across a quoted key, no part of it is left.
    for pad in range(340, 420):
        said = server_message({"note": "x" * pad, "authorization": f"Bearer {TEST_KEY}"}, TEST_KEY)
        assert TEST_KEY[:6] not in said, pad
        assert TEST_KEY[-6:] not in said, pad


def sdk_failures(emulator: Emulator) -> dict[str, Exception]:
    """The exceptions the SDK raises on a run's paths, each caught as the runner would."""
    caught: dict[str, Exception] = {}

    def attempt(name: str, call: Callable[[cohere.ClientV2], object], timeout: float = 10) -> None:
        base_url = emulator.base_url if name != "connect" else closed_port_url()
        with cohere.ClientV2(
            api_key=TEST_KEY, base_url=base_url, max_retries=0, timeout=timeout
        ) as co:
            try:
                call(co)
            except Exception as exc:  # noqa: BLE001 - each one is what the test looks at
                caught[name] = exc

    def embed(co: cohere.ClientV2) -> object:
        return co.embed(model="embed-v4.0", input_type="search_document", texts=["hello"])

    emulator.faults.queue(Fault(FaultKind.SERVER_ERROR, status=503))
    attempt("server error", embed)
    emulator.faults.queue(Fault(FaultKind.TIMEOUT))
    attempt("timeout", embed, timeout=0.3)
    emulator.faults.queue(Fault(FaultKind.DISCONNECT))
    attempt("disconnect", embed)
    attempt("connect", embed)
    emulator.set_keys({"another-key"})
    attempt("401 on the key check", BaseCohere.check_api_key)
    attempt("401 on embed", embed)
    return caught


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_exceptions_raised_on_a_runs_paths_never_carry_the_key(emulator: Emulator) -> None:
    caught = sdk_failures(emulator)

    assert set(caught) == {
        "server error",
        "timeout",
        "disconnect",
        "connect",
        "401 on the key check",
        "401 on embed",
    }
    assert isinstance(caught["timeout"], httpx.TimeoutException)
    for name, exc in caught.items():
        chain: list[BaseException] = [exc]
        while (nxt := chain[-1].__cause__ or chain[-1].__context__) is not None:
            chain.append(nxt)
        for link in chain:
            assert_no_leak(str(link), f"str() of the {name} exception")
            assert_no_leak(repr(link), f"repr() of the {name} exception")
            assert_no_leak(repr(link.args), f"the args of the {name} exception")
        assert_no_leak("".join(traceback.format_exception(exc)), f"the {name} traceback")
        failure = judge(exc, 10, TEST_KEY)
        assert failure is not None, f"the {name} exception is a request failure"
        assert_no_leak(failure.message, f"the judged {name} message")


def test_the_run_child_logged_at_debug_keeps_the_key_to_itself(
    emulator: Emulator, tmp_path: Path
) -> None:
    # The run's child process, with every logger at DEBUG; cancelled after its first answer.
    command = [
        sys.executable,
        "-c",
        "import logging, sys\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
        "from desktop.workers.run_child import run_and_exit\n"
        "run_and_exit()",
    ]
    run_items = tuple(items(tmp_path / "in", 6, PACED))
    config = RunConfig(PACED, TEST_KEY, parse_endpoint(emulator.base_url), timeout=10, seed=1)
    store_path = tmp_path / "store.sqlite3"
    child = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert child.stdin is not None
    assert child.stdout is not None
    assert child.stderr is not None
    lines: list[bytes] = []
    try:
        child.stdin.write(job_to_json(config, run_items, store_path))
        child.stdin.flush()
        for line in child.stdout:
            lines.append(line)
            event = event_from_line(line)
            if isinstance(event, ItemsEmbedded):
                child.stdin.write(CANCEL + b"\n")
                child.stdin.flush()
            if isinstance(event, RunResult):
                break
        child.stdin.close()
        err = child.stderr.read()
        assert child.wait(60) == 0, err
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()

    result = event_from_line(lines[-1])
    assert isinstance(result, RunResult)
    assert (result.outcome, result.embedded) == ("cancelled", 3)
    assert b"DEBUG:httpcore" in err, "the child did log its requests at DEBUG"
    assert_no_leak(b"".join(lines), "the child's events")
    assert_no_leak(err, "the child's log")
    assert not files_containing(tmp_path, TEST_KEY)
