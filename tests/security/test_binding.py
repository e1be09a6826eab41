"""The emulator listens on 127.0.0.1 only, however it is started, and refuses any other host.

It accepts any key, so it must never be reachable from another machine. Each entry (the
server class, ``embed-studio serve-emulator``, the window's offline mode) is started and its
listening socket looked at: the address it reports, the kernel's table of listening sockets
(Linux), and a connection attempt on this machine's non-loopback address when it has one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from desktop.emulator import Emulator
from desktop.offline import OfflineService
from tests.security.conftest import COMMAND

LOOPBACK = "127.0.0.1"


def listening_addresses(port: int) -> set[str]:
    """The local addresses the kernel has a socket listening on *port* at (IPv4 and IPv6)."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if int(hex_port, 16) != port or fields[3] != "0A":  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            family = socket.AF_INET if width == 8 else socket.AF_INET6
            found.add(socket.inet_ntop(family, words))
    return found


def other_local_address() -> str | None:
    """An address of this machine that is not loopback, or ``None`` if it has none."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # a documentation address; nothing is sent
            address: str = probe.getsockname()[0]
    except OSError:
        address = ""
    if address and not address.startswith("127."):
        return address
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        return None
    return None if address.startswith("127.") else address


def assert_loopback_only(host: str, port: int) -> None:
    assert host == LOOPBACK
    if Path("/proc/net/tcp").exists():
        assert listening_addresses(port) == {LOOPBACK}
    other = other_local_address()
    if other is None:
        return  # only loopback here: nothing else to try
    with socket.socket() as probe:
        probe.settimeout(5)
        assert probe.connect_ex((other, port)) != 0, f"reachable on {other}:{port}"


def test_the_server_class_binds_loopback_only() -> None:
    with Emulator() as emu:
        assert emu._server is not None
        host, port = emu._server.server_address[:2]
        assert_loopback_only(str(host), int(port))
        assert urlsplit(emu.base_url).hostname == LOOPBACK


def test_offline_mode_binds_loopback_only() -> None:
    service = OfflineService(preferred_port=0, latency_ms=0, per_image_ms=0)
    endpoint = service.start()
    try:
        parts = urlsplit(endpoint.url)
        assert parts.port is not None
        assert_loopback_only(str(parts.hostname), parts.port)
        assert endpoint.is_loopback
    finally:
        service.stop()


@contextmanager
def serve_emulator(*args: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [os.fspath(COMMAND), "serve-emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_the_serve_emulator_command_binds_loopback_only() -> None:
    with serve_emulator() as proc:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        parts = urlsplit(url)
        assert parts.port is not None, url
        assert_loopback_only(str(parts.hostname), parts.port)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "example.com"])
def test_the_serve_emulator_command_refuses_any_other_host(host: str) -> None:
    with serve_emulator("--host", host) as proc:
        status = proc.wait(30)
        assert proc.stderr is not None
        err = proc.stderr.read()
    assert status == 2, err
    assert "loopback" in err
