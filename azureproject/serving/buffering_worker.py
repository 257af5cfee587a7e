"""A gunicorn worker that reads each request whole before a thread takes it.

gunicorn's threaded worker gives a connection to a thread as soon as its first bytes arrive,
and the thread then blocks until the request is complete: clients sending a header or a body
a byte every few seconds held every thread, and other visitors' requests timed out. A
buffering proxy in front (nginx's default, Azure Application Gateway's) prevents that by
passing a request on only once it has all of it; App Service's own front end makes no such
promise for a Python app, so the server does it itself (docs/azure.md, "Request bodies", says
why this and not another server).

Here the worker's event loop reads each request, without a thread, into memory: the headers
(up to HEADER_LIMIT), then a body of known length (or chunked, up to its last chunk). Only a
complete request goes to a thread, whose parser reads that buffer once, front to back, then
the socket. What the loop refuses, it answers itself and closes, so no thread ever waits on
a client:
- a body larger than the app reads at all (azureproject.config.request_body_limit): 413;
- a request that would take the worker's buffers past WORKER_BUFFER_LIMIT: 503 with
  Retry-After (counted as bytes arrive, so the bound holds however the clients pace them);
- headers not complete within HEADER_SECONDS, or a body that stops for IDLE_SECONDS: closed.
Each refusal is one WARNING line, at most one per kind every LOG_EVERY_SECONDS per worker.
Bytes a client pipelined behind a request stay in the loop until their request is whole too.
TLS connections (gunicorn terminating TLS itself, only in tests) are left to the threaded
worker: their bytes can only be read after the handshake, in a thread.
"""

import logging
import os
import selectors
import socket
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.workers.gthread import ThreadWorker

from azureproject.config import photo_max_bytes, request_body_limit

logger = logging.getLogger(__name__)

HEADER_LIMIT = 64 * 1024
HEADER_SECONDS = 20.0
IDLE_SECONDS = 20.0
# The one body limit, as the app's (PHOTO_MAX_MB): anything larger is never read.
BODY_LIMIT = request_body_limit(photo_max_bytes(os.environ))
# What one worker holds in request buffers at most: a few of the largest uploads at once.
WORKER_BUFFER_LIMIT = 96 * 1024 * 1024
LOG_EVERY_SECONDS = 60.0
RECV_SIZE = 256 * 1024


def request_complete(data: bytes | bytearray, chunks: "ChunkScan | None" = None) -> bool | None:
    """True when `data` starts with a whole request; False while more is to come; None when its
    body is larger than BODY_LIMIT (refused unread). A chunked body's chunks are walked from
    where `chunks` (kept between calls for one request) left off, never again from its start."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) > HEADER_LIMIT  # too long: let the parser refuse it
    headers = bytes(data[:end]).lower()
    body = len(data) - end - 4
    for line in headers.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip(), value.strip()
        if name == b"transfer-encoding" and b"chunked" in value:
            if body > BODY_LIMIT:
                return None
            scan = chunks if chunks is not None else ChunkScan()
            return scan.complete(data, end + 4)
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return True  # malformed: let the parser refuse it
            if length > BODY_LIMIT:
                return None
            return body >= length
    return True  # no body


class ChunkScan:
    """Where the next chunk of a chunked body starts, as the body arrives."""

    def __init__(self) -> None:
        self.next_chunk: int | None = None

    def complete(self, data: bytes | bytearray, body_start: int) -> bool:
        position = self.next_chunk if self.next_chunk is not None else body_start
        while True:
            self.next_chunk = position
            line_end = data.find(b"\r\n", position)
            if line_end < 0:
                return False
            size_field = bytes(data[position:line_end]).split(b";")[0].strip()
            try:
                size = int(size_field, 16)
            except ValueError:
                return True  # malformed: let the parser refuse it
            if size == 0:  # the last chunk, then trailers up to an empty line
                return data.find(b"\r\n\r\n", line_end) >= 0
            position = line_end + 2 + size + 2
            if position > len(data):
                return False


def _response(status: str, text: str, *extra: str) -> bytes:
    body = f"{text}\n".encode()
    headers = [
        f"HTTP/1.1 {status}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *extra,
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


TOO_LARGE = _response(
    "413 Content Too Large", f"The request is larger than {BODY_LIMIT // 2**20} MB: refused."
)
BUSY = _response(
    "503 Service Unavailable", "Too many uploads at once: try again shortly.", "Retry-After: 5"
)


class Buffered:
    """A connection whose request is being read by the event loop."""

    def __init__(self, conn: Any, data: bytes = b"") -> None:
        self.conn = conn
        self.data = bytearray(data)
        self.started = time.monotonic()
        self.last_data = self.started
        self.chunks = ChunkScan()


class BufferedSource:
    """What a thread's parser reads from: the bytes the event loop held, front to back without
    copying what remains (gunicorn's unreader copies its whole buffer on every read, so a body
    pushed back into it cost the square of its size), then the socket."""

    def __init__(self, data: bytearray, sock: socket.socket) -> None:
        self.view = memoryview(data)
        self.offset = 0
        self.sock = sock

    def recv(self, size: int) -> bytes:
        if self.offset < len(self.view):
            chunk = bytes(self.view[self.offset : self.offset + size])
            self.offset += len(chunk)
            return chunk
        return self.sock.recv(size)

    def rest(self) -> bytes:
        """What the parser has not read (a request pipelined behind this one)."""
        rest = bytes(self.view[self.offset :])
        self.view.release()
        return rest

    def __getattr__(self, name: str) -> Any:  # timeouts, fileno: the socket's
        return getattr(self.sock, name)


class BufferingThreadWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.buffering: deque[Buffered] = deque()
        self.buffered_bytes = 0
        self._last_warned: dict[str, float] = {}

    def enqueue_req(self, conn: Any) -> None:
        if self.cfg.is_ssl:
            super().enqueue_req(conn)
            return
        # Bytes already read behind the last request (pipelined) are this request's start.
        leftover = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        conn.sock.setblocking(False)
        pending = Buffered(conn, leftover)
        self.buffered_bytes += len(leftover)
        self.buffering.append(pending)
        if leftover and self._check(pending) is not False:
            return  # whole already (handed over), or refused
        assert self.poller is not None  # made in init_process, before any connection
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, pending))

    def _readable(self, pending: Buffered, sock: socket.socket) -> None:
        while True:
            try:
                chunk = sock.recv(RECV_SIZE)
            except BlockingIOError:
                break
            except OSError:
                self._drop(pending)
                return
            if not chunk:  # the client went away
                self._drop(pending)
                return
            if self.buffered_bytes + len(chunk) > WORKER_BUFFER_LIMIT:
                self._refuse(pending, BUSY, "buffer full", "the worker's request buffers are full")
                return
            pending.data += chunk
            self.buffered_bytes += len(chunk)
            pending.last_data = time.monotonic()
            if len(pending.data) > BODY_LIMIT + HEADER_LIMIT:
                break  # request_complete says what to do with it
        self._check(pending)

    def _check(self, pending: Buffered) -> bool | None:
        """Hand the request over if whole, refuse it if too large; whether it was whole."""
        complete = request_complete(pending.data, pending.chunks)
        if complete is None:
            self._refuse(pending, TOO_LARGE, "body too large", f"over {BODY_LIMIT} bytes")
        elif complete:
            self._hand_over(pending)
        return complete

    def _forget(self, pending: Buffered) -> None:
        self.buffering.remove(pending)
        self.buffered_bytes -= len(pending.data)
        try:
            assert self.poller is not None
            self.poller.unregister(pending.conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _drop(self, pending: Buffered) -> None:
        self._forget(pending)
        self.nr_conns -= 1
        pending.conn.close()

    def _refuse(self, pending: Buffered, answer: bytes, kind: str, why: str) -> None:
        """Answer from the loop and close: no thread ever reads this request."""
        try:
            pending.conn.sock.send(answer)  # small: fits the socket's buffer
        except OSError:
            pass
        self._warn(kind, pending, why)
        self._drop(pending)

    def _warn(self, kind: str, pending: Buffered, why: str) -> None:
        now = time.monotonic()
        if now - self._last_warned.get(kind, -LOG_EVERY_SECONDS) < LOG_EVERY_SECONDS:
            return
        self._last_warned[kind] = now
        logger.warning(
            "Refused a request (%s: %s) from %s; such refusals are logged at most once a "
            "minute per worker",
            kind,
            why,
            pending.conn.client[0] if pending.conn.client else "?",
        )

    def _hand_over(self, pending: Buffered) -> None:
        """The whole request goes to a thread, whose parser reads these bytes first."""
        self._forget(pending)
        conn = pending.conn
        conn.sock.setblocking(True)
        source = BufferedSource(pending.data, conn.sock)
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, source, conn.client)
            conn.initialized = True
        else:
            conn.parser.unreader.sock = source
        conn.data_ready = True
        super().enqueue_req(conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        """Whatever the parser left unread of the held bytes (a request pipelined behind this
        one) goes back to its buffer, where enqueue_req takes it up again; the parser reads
        the socket itself from now on."""
        unreader = conn.parser.unreader if conn.parser is not None else None
        source = getattr(unreader, "sock", None)
        if isinstance(source, BufferedSource):
            unreader.sock = conn.sock  # type: ignore[union-attr]
            rest = source.rest()
            if rest:
                unreader.unread(rest)  # type: ignore[union-attr]
        super().finish_request(conn, fs)

    def murder_pending(self) -> None:
        """Also close requests that have not arrived in time: headers within HEADER_SECONDS,
        and no pause longer than IDLE_SECONDS in a body."""
        super().murder_pending()
        now = time.monotonic()
        for pending in list(self.buffering):
            headers_late = (
                b"\r\n\r\n" not in pending.data and now - pending.started > HEADER_SECONDS
            )
            if headers_late or now - pending.last_data > IDLE_SECONDS:
                self._warn("too slow", pending, "incomplete after the time allowed")
                self._drop(pending)
