"""The HTTP layer on its own: routes, odd framing, keep-alive."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import orjson

from desktop.emulator import Emulator


def _exchange(emulator: Emulator, request: bytes) -> bytes:
    """Send raw bytes, end the sending side, and read until the server closes."""
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_unknown_routes_get_a_json_404(emulator: Emulator) -> None:
    with httpx.Client(base_url=emulator.base_url) as client:
        response = client.get("/")

    assert response.status_code == 404
    assert response.json()["message"] == "no route for GET /"
    assert emulator.requests[0].path == "/"


def test_a_body_far_over_the_limit_is_answered_unread(emulator: Emulator) -> None:
    answer = _exchange(
        emulator,
        b"POST /v2/embed HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Content-Length: 500000000\r\n\r\n",
    )

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert "500000000 bytes" in orjson.loads(body)["message"]


def test_a_chunked_body_is_refused(emulator: Emulator) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "embed-v4.0"}'

    with httpx.Client(base_url=emulator.base_url) as client:
        response = client.post("/v2/embed", content=chunks())

    assert response.status_code == 411
    assert "Content-Length" in response.json()["message"]


def test_a_body_cut_short_gets_no_answer_and_no_record(emulator: Emulator) -> None:
    answer = _exchange(
        emulator,
        b"POST /v2/embed HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{}",
    )

    assert answer == b""
    assert emulator.requests == []


def test_one_connection_serves_many_requests(emulator: Emulator) -> None:
    body = orjson.dumps(
        {
            "model": "embed-v4.0",
            "input_type": "search_query",
            "texts": ["a"],
            "embedding_types": ["float"],
        }
    )
    request = (
        b"POST /v2/embed HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    closing = request.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n")

    answer = _exchange(emulator, request * 2 + closing)

    assert answer.count(b"HTTP/1.1 200") == 3
    assert len(emulator.requests) == 3
