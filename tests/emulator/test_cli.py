"""The ``serve-emulator`` command: first line is the base URL, serves, stops on a signal."""

from __future__ import annotations

import argparse
import selectors
import signal
import socket
import subprocess
import sys
import threading

import cohere
import pytest

from desktop.emulator import Emulator, FaultSettings, loopback_host
from desktop.emulator.cli import add_arguments, build_emulator, run
from tests.emulator.helpers import check_key, data_url, image_input, rows

SECRET_KEY = "a-secret-key-that-must-not-be-logged"

RUNNER = (
    "import argparse, sys\n"
    "from desktop.emulator.cli import add_arguments, run\n"
    "parser = argparse.ArgumentParser()\n"
    "add_arguments(parser)\n"
    "sys.exit(run(parser.parse_args(sys.argv[1:])))\n"
)


def _first_line(process: subprocess.Popen[str], seconds: float = 20.0) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=seconds):
            raise AssertionError("the command printed nothing before the deadline")
    return process.stdout.readline().strip()


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_command_serves_until_a_signal(png_bytes: bytes, stop_signal: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, "--port", "0", "--key", SECRET_KEY, "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = _first_line(process)
        assert base_url.startswith("http://127.0.0.1:")
        with cohere.ClientV2(api_key=SECRET_KEY, base_url=base_url, max_retries=0) as co:
            assert check_key(co).valid is True
            response = co.embed(
                model="embed-v4.0",
                input_type="search_document",
                inputs=[image_input(data_url(png_bytes, "image/png"))],
                embedding_types=["float"],
            )
        assert rows(response).shape == (1, 1536)
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "POST /v2/embed -> 200" in stderr
    assert SECRET_KEY not in stderr


def test_the_command_refuses_keys_it_was_not_given(png_bytes: bytes) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, "--key", SECRET_KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = _first_line(process)
        with (
            cohere.ClientV2(api_key="wrong", base_url=base_url, max_retries=0) as co,
            pytest.raises(cohere.UnauthorizedError) as caught,
        ):
            check_key(co)
        assert caught.value.body["message"] == "invalid api token"
        process.terminate()
        process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.com"])
def test_run_refuses_a_non_loopback_host(host: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_parse("--host", host)) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "loopback" in captured.err
    assert host in captured.err


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "::", "my-host.example"])
def test_the_emulator_refuses_a_non_loopback_host(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        Emulator(host=host)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "127.0.0.1"),
        ("127.8.9.10", "127.8.9.10"),
        ("::1", "::1"),
    ],
)
def test_loopback_addresses_are_accepted(host: str, address: str) -> None:
    assert loopback_host(host) == address


def test_run_reports_a_port_already_taken(capsys: pytest.CaptureFixture[str]) -> None:
    with Emulator() as taken:
        assert run(_parse("--port", str(taken.port))) == 1

    assert "cannot listen" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["--fail-rate", "2"], ["--rate-limit", "0"], ["--latency-ms", "-5"], ["--port", "70000"]],
)
def test_bad_options_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        _parse(*argv)

    assert caught.value.code == 2


def test_options_reach_the_emulator() -> None:
    args = _parse(
        "--latency-ms",
        "15",
        "--per-image-ms",
        "2",
        "--fail-rate",
        "0.25",
        "--rate-limit",
        "400",
        "--key",
        "a",
        "--key",
        "b",
        "--seed",
        "9",
    )

    emulator = build_emulator(args)

    assert emulator.faults.settings == FaultSettings(
        latency_ms=15.0, per_image_ms=2.0, fail_rate=0.25, images_per_minute=400, seed=9
    )
    assert emulator.keys == frozenset({"a", "b"})
    assert build_emulator(_parse()).keys is None


def test_close_ends_idle_keep_alive_connections() -> None:
    emulator = Emulator().start()
    with cohere.ClientV2(api_key="k", base_url=emulator.base_url, max_retries=0) as co:
        check_key(co)  # leaves a kept-alive connection in the pool
        assert any(t.name == "emulator-connection" for t in threading.enumerate())
        closer = threading.Thread(target=emulator.close)
        closer.start()
        closer.join(timeout=10)  # an idle connection would otherwise hold it for 120 s

    assert not closer.is_alive()
    assert not any(t.name == "emulator-connection" for t in threading.enumerate())


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 on this machine")
def test_the_emulator_serves_on_ipv6_loopback() -> None:
    try:
        emulator = Emulator(host="::1").start()
    except OSError:
        pytest.skip("::1 cannot be bound here")
    with emulator, cohere.ClientV2(api_key="k", base_url=emulator.base_url) as co:
        assert emulator.base_url.startswith("http://[::1]:")
        assert check_key(co).valid is True
