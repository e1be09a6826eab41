"""The HTTP side of the emulator: a threading HTTP/1.1 server on a loopback address.

Connections are kept alive (the SDK's httpx pool reuses them), bodies are read to exactly their
``Content-Length``, and every connection thread is tracked so :meth:`Emulator.close` can wake
idle or held connections and join their threads, even while a timeout fault holds one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import select
import socket
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final

from desktop.core.models import MAX_BODY_BYTES
from desktop.emulator.faults import FaultPlan
from desktop.emulator.ledger import Ledger, RequestRecord
from desktop.emulator.refusal import error_body
from desktop.emulator.service import Decision, Drop, Reply, Service, body_too_large

#: Bodies up to this size are read (and judged too large) so the client gets its answer;
#: beyond it the connection is answered and closed unread.
MAX_READ_BYTES: Final = 4 * MAX_BODY_BYTES
#: An idle keep-alive connection is closed after this many seconds.
IDLE_TIMEOUT_SECONDS: Final = 120.0
#: How often a held request looks at its socket and at the stop flag.
_HOLD_POLL_SECONDS: Final = 0.05
#: How long :meth:`Emulator.close` waits for connection threads to end.
_JOIN_SECONDS: Final = 5.0
#: Every answer names the emulator, so clients can label its vectors as not Cohere's.
IDENTITY_HEADER: Final = ("X-Embed-Studio-Emulator", "1")

_log = logging.getLogger("desktop.emulator")


def loopback_host(host: str) -> str:
    """*host* as a loopback IP address (``localhost`` becomes ``127.0.0.1``).

    Raises:
        ValueError: *host* is not a loopback address; the message says why in plain words.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"'{host}' is not an IP address; the emulator listens only on a loopback address "
            "such as 127.0.0.1 or ::1"
        ) from None
    if not address.is_loopback:
        raise ValueError(
            f"refusing to listen on {host}: the emulator accepts any key and must not be "
            "reachable from other machines; use a loopback address such as 127.0.0.1 or ::1"
        )
    return str(address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "EmbedStudioEmulator/1"
    timeout = IDLE_TIMEOUT_SECONDS
    server: _Server

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        # Only the request line and status reach here, never headers (the key stays out).
        _log.debug("%s - " + format, self.address_string(), *args)

    def _serve(self) -> None:
        received_at = time.monotonic()
        body = self._read_body()
        if body is None:
            return
        try:
            decision = self.server.service.handle(
                self.command, self.path, self.headers.get("Authorization"), body, received_at
            )
        except Exception:  # noqa: BLE001 - an emulator bug must still answer, not kill the thread
            _log.exception("emulator failed on %s %s", self.command, self.path)
            decision = Decision(Reply(500, error_body("internal emulator error")))
        self._carry_out(decision)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self._send(Reply(411, error_body("send the body with a Content-Length header")))
            self.close_connection = True
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._send(Reply(400, error_body("invalid Content-Length header")))
            self.close_connection = True
            return None
        if length > MAX_READ_BYTES:
            self._send(Reply(400, error_body(body_too_large(length).message)))
            self.close_connection = True
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _carry_out(self, decision: Decision) -> None:
        stopping = self.server.stopping
        if decision.delay_seconds > 0 and stopping.wait(decision.delay_seconds):
            self.close_connection = True
            return
        if isinstance(decision.action, Drop):
            self._hold(decision.action.hold_seconds)
            self.close_connection = True
            return
        self._send(decision.action)

    def _hold(self, seconds: float) -> None:
        """Keep the request open without answering until the client leaves, time runs out or
        the emulator stops."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.server.stopping.is_set():
            try:
                readable, _, _ = select.select([self.connection], [], [], _HOLD_POLL_SECONDS)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return
            except OSError:
                return

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            self.send_header(*IDENTITY_HEADER)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    """Tracks each connection's thread and socket so they can be woken and joined on close."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: Service, family: int) -> None:
        self.address_family = family
        self.service = service
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: dict[threading.Thread, socket.socket] = {}
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="emulator-connection",
            daemon=True,
        )
        with self._lock:
            self._connections[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - a broken connection must not take the server down
            _log.debug("connection from %s ended with an error", client_address, exc_info=True)
        finally:
            self.shutdown_request(request)
            with self._lock:
                self._connections.pop(threading.current_thread(), None)

    def close_connections(self) -> list[threading.Thread]:
        """Wake every connection (idle, held or mid-request) and return their threads."""
        with self._lock:
            connections = dict(self._connections)
        for sock in connections.values():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return list(connections)


class Emulator:
    """A Cohere-compatible server on a loopback address, run on background threads.

    Use it as a context manager::

        with Emulator(port=0) as emu:
            co = cohere.ClientV2(api_key="any", base_url=emu.base_url, max_retries=0)

    Attributes:
        faults: the fault plan; change it at any time from any thread.
        ledger: the record of every request (see :attr:`requests`).
    """

    def __init__(
        self,
        *,
        faults: FaultPlan | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        keys: Iterable[str] | None = None,
    ) -> None:
        self.host = loopback_host(host)
        self.faults = faults or FaultPlan()
        self.ledger = Ledger()
        self._service = Service(self.faults, self.ledger, None if keys is None else list(keys))
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Emulator:
        """Bind and start serving; returns ``self``.

        Raises:
            OSError: the address cannot be bound (e.g. the port is taken).
        """
        if self._server is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server = _Server((self.host, self._requested_port), self._service, family)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="emulator-accept",
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        """The port listened on (known once started)."""
        if self._server is None:
            raise RuntimeError("the emulator has not been started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: what to pass as the SDK's ``base_url``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request so far, in the order their answers were decided."""
        return self.ledger.records()

    @property
    def billed_images(self) -> int:
        """Images billed so far."""
        return self.ledger.billed_images

    @property
    def keys(self) -> frozenset[str] | None:
        """The accepted keys, or ``None`` when any non-empty key is accepted."""
        return self._service.valid_keys

    def set_keys(self, keys: Iterable[str] | None) -> None:
        """Accept only *keys* from now on (``None``: any non-empty key)."""
        self._service.valid_keys = None if keys is None else frozenset(keys)

    def close(self) -> None:
        """Stop serving, wake every connection (held ones too), join the threads, unbind."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._server = self._thread = None
        server.stopping.set()
        server.shutdown()
        thread.join()
        deadline = time.monotonic() + _JOIN_SECONDS
        for connection_thread in server.close_connections():
            connection_thread.join(max(0.0, deadline - time.monotonic()))
        server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
