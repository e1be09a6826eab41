"""``embed-studio embed`` as a real command: the key in ``CO_API_KEY`` reaches no output, no file.

Each test starts the installed command, or the same command with every logger of the process
at DEBUG (httpx and httpcore log each request at that level), with a private HOME and data dir,
against a real server on loopback: the emulator, or a server that quotes the request's headers
back in its errors as a misconfigured proxy would. Then everything the command printed and
every file under HOME, the export included, is scanned for the key in all its forms.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from desktop.cli import main
from desktop.core.keys import mask
from desktop.core.store import STORE_FILE_NAME
from desktop.emulator import Emulator
from tests import imagegen as g
from tests.conftest import TEST_KEY
from tests.security.conftest import COMMAND, DEBUG_COMMAND, EchoServer, Home, assert_no_leak

#: A command that hangs is a failure, not a stuck suite.
TIMEOUT = 120.0
EMBED = "/v2/embed"


@dataclass(frozen=True)
class Done:
    status: int
    out: str
    err: str


def embed_command(debug: bool, *args: str | os.PathLike[str]) -> list[str]:
    start = DEBUG_COMMAND if debug else [os.fspath(COMMAND)]
    return [*start, "embed", *(os.fspath(a) for a in args)]


def run(command: list[str], env: dict[str, str]) -> Done:
    done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, env=env, check=False)
    return Done(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))


def assert_output_clean(done: Done) -> None:
    assert_no_leak(done.out, "stdout")
    assert_no_leak(done.err, "stderr")
    assert "Traceback" not in done.err, done.err


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    g.photo_folder(folder, 3, width=64, height=48)
    return folder


def test_a_run_logged_at_debug_level_writes_the_key_nowhere(
    home: Home, emulator: Emulator, images: Path, tmp_path: Path
) -> None:
    out = tmp_path / "vectors.jsonl"
    done = run(
        embed_command(True, images, "--out", out, "--base-url", emulator.base_url), home.env()
    )

    assert done.status == 0, done.err
    assert_output_clean(done)
    # Not a vacuous scan: the HTTP libraries did log every request, and files were written.
    assert "DEBUG:httpcore" in done.err
    assert "HTTP Request: POST" in done.err
    assert (home.data / STORE_FILE_NAME).exists()
    assert out.stat().st_size > 0
    home.assert_key_written_nowhere(tmp_path)


def test_a_refused_key_at_debug_level_is_not_quoted(
    home: Home, images: Path, tmp_path: Path
) -> None:
    with Emulator(keys={"another-key"}) as emu:
        done = run(
            embed_command(True, images, "--out", tmp_path / "v.csv", "--base-url", emu.base_url),
            home.env(),
        )
        sent = [r.path for r in emu.requests]

    assert done.status == 1
    assert "invalid api token" in done.err, "the server's own words are shown"
    assert EMBED not in sent
    assert_output_clean(done)
    home.assert_key_written_nowhere(tmp_path)


@pytest.mark.parametrize(
    ("status", "check_status", "said"),
    [
        (200, 401, "The API key was refused (401)"),
        (403, 200, "This API key may not do this (403)"),
    ],
    ids=["401-on-the-key-check", "403-stops-the-run"],
)
def test_a_server_quoting_the_key_back_has_it_masked(
    home: Home, images: Path, tmp_path: Path, status: int, check_status: int, said: str
) -> None:
    echo = EchoServer(status, check_status)
    try:
        done = run(
            embed_command(False, images, "--out", tmp_path / "v.csv", "--base-url", echo.base_url),
            home.env(),
        )
    finally:
        echo.close()

    assert done.status == 1
    assert said in done.err, done.err
    assert mask(TEST_KEY) in done.err, "the server's words are shown, the key in them masked"
    assert_output_clean(done)
    # A stopped run's words go to the store's run history too.
    home.assert_key_written_nowhere(tmp_path)


def test_ctrl_c_in_the_middle_of_a_run_at_debug_level_leaves_no_key(
    home: Home, emulator: Emulator, images: Path, tmp_path: Path
) -> None:
    emulator.faults.update(latency_ms=1000)
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    command = embed_command(
        True, images, "--out", tmp_path / "v.npz", "--base-url", emulator.base_url
    )
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=home.env())
        try:
            # The emulator records a request when it decides its answer, before the latency.
            while not any(r.path == EMBED for r in emulator.requests):
                assert proc.poll() is None, err.read_text()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(0.02)  # the poll interval; returns at once if the child ends
            proc.send_signal(signal.SIGINT)
            status = proc.wait(TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    done = Done(status, out.read_text(), err.read_text())

    assert done.status == 130, done.err
    assert "Cancelling" in done.err
    assert_output_clean(done)
    home.assert_key_written_nowhere(tmp_path)


@pytest.mark.parametrize(
    "key",
    [f"{TEST_KEY}é", f"{TEST_KEY[:9]}\n{TEST_KEY[9:]}", f"{TEST_KEY}\x07"],
    ids=["non-ascii", "line-break", "control-character"],
)
def test_a_key_no_server_could_take_is_refused_in_plain_words(
    home: Home,
    emulator: Emulator,
    images: Path,
    tmp_path: Path,
    key: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Sent, such a key makes httpx or h11 raise with the whole Authorization header quoted.
    # Refused before anything is read or sent, so the command's own main() runs in-process.
    monkeypatch.setenv("CO_API_KEY", key)
    out = tmp_path / "v.csv"
    status = main(
        ["embed", os.fspath(images), "--out", os.fspath(out), "--base-url", emulator.base_url]
    )
    captured = capsys.readouterr()
    done = Done(status, captured.out, captured.err)

    assert done.status == 2
    assert "cannot be used" in done.err, done.err
    assert_output_clean(done)
    for part in key.split("\n"):
        assert_no_leak(done.err, "stderr", part.strip())
    assert emulator.requests == [], "nothing is sent with such a key"
    assert not out.exists()
    home.assert_key_written_nowhere(tmp_path)
