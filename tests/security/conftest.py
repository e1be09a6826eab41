"""Fixtures of the security suite: a private HOME, DEBUG logs, the emulator and an echoing server.

Every test here also runs under the window tests' two guards, imported rather than copied: the
key reaches no log record and no file under the test's folder, and no thread outlives a test.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from desktop.emulator import Emulator
from tests.conftest import TEST_KEY
from tests.secrets_check import files_containing, leaks_in
from tests.ui.conftest import _key_never_leaks, _no_leaked_threads

__all__ = ["_key_never_leaks", "_no_leaked_threads"]

#: The installed command, beside the interpreter running the tests.
COMMAND = Path(sys.executable).with_name("embed-studio")
#: The same command with every logger of the process (httpx, httpcore, the SDK, the app's own)
#: writing DEBUG records to stderr: the command has no option of its own for that.
DEBUG_COMMAND = [
    sys.executable,
    "-c",
    "import logging, sys\n"
    "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
    "from desktop.cli import main\n"
    "sys.exit(main())",
]
#: Loggers that would show a request's headers if anything did.
HTTP_LOGGERS = ("httpx", "httpcore", "cohere", "urllib3", "desktop")


def assert_no_leak(text: str | bytes, where: str, secret: str = TEST_KEY) -> None:
    """Fail if *text* holds *secret* in any form."""
    found = leaks_in(text, secret)
    assert not found, f"{where} holds {', '.join(found)}"


@dataclass(frozen=True)
class Home:
    """A private HOME with its XDG folders, and the app's data dir inside it."""

    root: Path
    data: Path
    config: Path

    def env(self, key: str | None = TEST_KEY) -> dict[str, str]:
        """An environment for a child process: this HOME, *key* in ``CO_API_KEY``, no keyring."""
        env = {k: v for k, v in os.environ.items() if k not in ("CO_API_KEY", "CO_API_URL")}
        # The null backend holds no entry and never reaches the user's real keyring.
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
        if key is not None:
            env["CO_API_KEY"] = key
        return env

    def written(self) -> list[Path]:
        """Every file under HOME."""
        return sorted(p for p in self.root.rglob("*") if p.is_file())

    def assert_key_written_nowhere(self, *more: Path) -> None:
        """No file under HOME (or under *more*) holds the key in any form."""
        for root in (self.root, *more):
            leaked = files_containing(root, TEST_KEY)
            assert not leaked, f"the key was written to {[str(p) for p in leaked]}"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """HOME, the XDG folders and ``EMBED_STUDIO_DATA_DIR`` in the test's folder (this process
    and its children)."""
    root = tmp_path / "home"
    folders = {
        "XDG_CONFIG_HOME": root / ".config",
        "XDG_DATA_HOME": root / ".local" / "share",
        "XDG_CACHE_HOME": root / ".cache",
        "XDG_STATE_HOME": root / ".local" / "state",
        "XDG_RUNTIME_DIR": root / "run",
    }
    for name, folder in folders.items():
        folder.mkdir(parents=True, mode=0o700)
        monkeypatch.setenv(name, os.fspath(folder))
    data = folders["XDG_DATA_HOME"] / "embed-studio"
    monkeypatch.setenv("HOME", os.fspath(root))
    monkeypatch.setenv("EMBED_STUDIO_DATA_DIR", os.fspath(data))
    return Home(root, data, folders["XDG_CONFIG_HOME"])


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, the HTTP libraries' included; no record may hold the key."""
    caplog.set_level(logging.DEBUG)
    for name in HTTP_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog
    for record in caplog.records:
        assert_no_leak(record.getMessage(), f"the {record.name} log record {record.msg!r}")
        if record.exc_info and record.exc_info[1] is not None:
            assert_no_leak(repr(record.exc_info[1].args), f"the exception logged by {record.name}")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


class EchoServer:
    """A server on loopback that answers every request by quoting its headers back.

    It stands for a misconfigured proxy or a debugging server put in as the base URL: its error
    bodies carry the ``Authorization`` header, so whatever shows the server's words would show
    the key. ``/v1/check-api-key`` answers *check_status*, everything else *status*.
    """

    def __init__(self, status: int, check_status: int = 200) -> None:
        self.status = status
        self.check_status = check_status
        self.paths: list[str] = []
        echo = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10  # an idle keep-alive connection ends; the server joins its thread

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                echo.paths.append(self.path)
                checking = self.path.startswith("/v1/check-api-key")
                status = echo.check_status if checking else echo.status
                said: dict[str, object] = {
                    "error": "not allowed",
                    "authorization": self.headers.get("Authorization"),
                    "headers": dict(self.headers.items()),
                }
                if status == 200:
                    said = {"valid": True, "organization_id": "echo", "owner_id": "echo"}
                body = json.dumps(said).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if status in (429, 503):
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="echo-server")
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
