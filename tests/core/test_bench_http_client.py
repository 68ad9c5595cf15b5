"""bench/judging.py's load generator speaks HTTP through bench/lean_http.py: it must behave as a browser on one
keep-alive connection does (cookies, bodies, a connection the server closed), or the bench measures nothing."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from bench.lean_http import Client, TransportError


async def _serve(handler):
    """A raw HTTP server on 127.0.0.1: handler(method, path, headers, body) -> (response bytes, keep open)."""
    connections = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode().split("\r\n")[:-2]
                method, path, _ = request_line.split(" ")
                headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                response, keep_open = handler(method, path, headers, body)
                writer.write(response)
                await writer.drain()
                if not keep_open:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], connections


def _response(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_requests_share_one_connection_and_carry_the_cookies_the_server_set():
    seen = []

    def handler(method, path, headers, body):
        seen.append((method, path, headers.get("cookie", ""), body))
        if path == "/login":
            return _response(
                b"", "Set-Cookie: sessionid=abc; Path=/; HttpOnly", "Set-Cookie: csrftoken=t1; Path=/"
            ), True
        if path == "/logout":
            return _response(b"", 'Set-Cookie: sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0'), True
        return _response(b"ok"), True

    async def scenario():
        server, port, connections = await _serve(handler)
        client = Client("127.0.0.1", port, timeout=10)
        try:
            await client.get("/login")
            posted = await client.post("/form", {"label": "correct", "note": "a & b"})
            await client.get("/logout")
            await client.get("/after")
        finally:
            await client.aclose()
            server.close()
        return posted, len(connections)

    posted, connections = asyncio.run(scenario())

    assert connections == 1
    assert posted.status_code == 200 and posted.text == "ok"
    method, _, cookie, body = seen[1]
    assert method == "POST" and cookie == "sessionid=abc; csrftoken=t1"
    assert parse_qs(body.decode()) == {"label": ["correct"], "note": ["a & b"]}
    assert seen[3][2] == "csrftoken=t1"  # the deleted session cookie is not sent again


def test_a_chunked_body_is_read_whole_and_the_connection_stays_usable():
    def handler(method, path, headers, body):
        if path == "/chunked":
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", True
        return _response(b"next"), True

    async def scenario():
        server, port, connections = await _serve(handler)
        client = Client("127.0.0.1", port, timeout=10)
        try:
            return (await client.get("/chunked")).text, (await client.get("/n")).text, len(connections)
        finally:
            await client.aclose()
            server.close()

    assert asyncio.run(scenario()) == ("hello world", "next", 1)


def test_a_connection_the_server_dropped_is_a_transport_error_then_a_new_connection():
    def handler(method, path, headers, body):
        if path == "/drop":
            return b"", False  # closes without answering, as a server whose keep-alive ran out does
        return _response(b"fine", "Location: /annotation/j/x/", status="302 Found"), True

    async def scenario():
        server, port, connections = await _serve(handler)
        client = Client("127.0.0.1", port, timeout=10)
        try:
            try:
                await client.get("/drop")
                raise AssertionError("no TransportError")
            except TransportError:
                pass
            response = await client.get("/again")
            return response.status_code, response.headers["location"], len(connections)
        finally:
            await client.aclose()
            server.close()

    assert asyncio.run(scenario()) == (302, "/annotation/j/x/", 2)
