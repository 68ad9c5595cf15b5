"""A minimal HTTP/1.1 keep-alive client for bench/judging.py's load generator.

The load generator shares the machine's cores with the server it measures, so every millisecond it spends
per request is taken from the server: with httpx it spent ~2.7 ms of CPU per judged item (two requests),
half as much as the server itself. This client does only what a judge's browser does on the judging pages:
one persistent connection, GET and form POST, cookies by name, Content-Length or chunked bodies, no
redirect following. It speaks to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode


class TransportError(Exception):
    """The connection failed, closed under a request or timed out: no response was read."""


class Response:
    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers  # names lower-cased; Set-Cookie is applied to the client, not kept here
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class Client:
    """One judge's browser: one keep-alive connection (opened again only after the server closed it
    cleanly between requests, as a browser does) and the cookies the server set."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.cookies: dict[str, str] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._host_header = f"{host}:{port}"

    async def get(self, path: str) -> Response:
        return await self._request("GET", path, b"", "")

    async def post(self, path: str, data: dict[str, str]) -> Response:
        return await self._request("POST", path, urlencode(data).encode(), "application/x-www-form-urlencoded")

    async def aclose(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ConnectionError):
                pass

    async def _request(self, method: str, path: str, body: bytes, content_type: str) -> Response:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host_header}", "User-Agent: qasynth-bench", "Accept: */*"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{name}={value}" for name, value in self.cookies.items()))
        if method == "POST":  # the headers httpx sent (no Origin or Referer: plain HTTP needs neither)
            lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        try:
            async with asyncio.timeout(self.timeout):
                if self._writer is None:
                    self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
                assert self._reader is not None
                self._writer.write(request)
                return await self._read_response(self._reader)
        except (OSError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
            await self.aclose()
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc

    async def _read_response(self, reader: asyncio.StreamReader) -> Response:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                self._set_cookie(value)
            else:
                headers[name] = value
        if "content-length" in headers:
            content = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            content = await self._read_chunked(reader)
        elif status in (204, 304) or 100 <= status < 200:
            content = b""
        else:  # the body runs to the end of the connection
            content = await reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            await self.aclose()
        return Response(status, headers, content)

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, then the blank line
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    def _set_cookie(self, header: str) -> None:
        pair, *attributes = header.split(";")
        name, _, value = pair.strip().partition("=")
        attributes = [attribute.strip().lower() for attribute in attributes]
        if "max-age=0" in attributes or any(a.startswith("expires=thu, 01 jan 1970") for a in attributes):
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value  # sent back as set, quotes included, as a browser does
