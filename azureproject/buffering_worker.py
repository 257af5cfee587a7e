"""A gunicorn worker that reads each request whole before a thread takes it.

gunicorn's threaded worker gives a connection to a thread as soon as its first bytes arrive,
and the thread then blocks until the request is complete: 24 clients sending a header or a
body a byte every few seconds held every thread, and other visitors' requests timed out.
A buffering proxy in front (nginx's default, Azure Application Gateway's) prevents that by
passing a request on only once it has all of it; App Service's own front end makes no such
promise for a Python app, so the server does it itself.

Here the worker's event loop reads each request, without a thread, into memory: the headers
(up to 64 KB), then a body of known length (or chunked, up to its last chunk). Only a
complete request goes to a thread, whose parser reads it from that buffer. A request that is
still incomplete after HEADER_SECONDS (headers) or after its body stops arriving for
IDLE_SECONDS is closed. Bodies larger than BUFFER_LIMIT, and requests once the worker holds
WORKER_BUFFER_LIMIT in buffers, go to a thread at once, as before (the app refuses a body
that large before reading it). TLS connections (gunicorn terminating TLS itself) are left to
the threaded worker: their bytes can only be read after the handshake, in a thread.
"""

import selectors
import socket
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.workers.gthread import ThreadWorker

HEADER_LIMIT = 64 * 1024
HEADER_SECONDS = 20.0
IDLE_SECONDS = 20.0
BUFFER_LIMIT = 32 * 1024 * 1024
WORKER_BUFFER_LIMIT = 256 * 1024 * 1024


def request_complete(data: bytes | bytearray) -> bool | None:
    """True when `data` holds a whole request; False while more is to come; None when its
    body is too large to hold in memory (a thread reads it)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) > HEADER_LIMIT  # too long: let the parser refuse it
    headers = bytes(data[:end]).lower()
    body = len(data) - end - 4
    for line in headers.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip(), value.strip()
        if name == b"transfer-encoding" and b"chunked" in value:
            if body > BUFFER_LIMIT:
                return None
            return data.endswith(b"0\r\n\r\n")  # the last chunk (no trailers)
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return True  # malformed: let the parser refuse it
            if length > BUFFER_LIMIT:
                return None
            return body >= length
    return True  # no body


class Buffered:
    """A connection whose request is being read by the event loop."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.data = bytearray()
        self.started = time.monotonic()
        self.last_data = self.started


class BufferingThreadWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.buffering: deque[Buffered] = deque()
        self.buffered_bytes = 0

    def enqueue_req(self, conn: Any) -> None:
        leftover = conn.parser is not None and conn.parser.unreader.buf.getvalue()
        if self.cfg.is_ssl or leftover or self.buffered_bytes > WORKER_BUFFER_LIMIT:
            super().enqueue_req(conn)
            return
        conn.sock.setblocking(False)
        pending = Buffered(conn)
        self.buffering.append(pending)
        assert self.poller is not None  # made in init_process, before any connection
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, pending))

    def _readable(self, pending: Buffered, sock: socket.socket) -> None:
        while True:
            try:
                chunk = sock.recv(256 * 1024)
            except BlockingIOError:
                break
            except OSError:
                self._drop(pending)
                return
            if not chunk:  # the client went away
                self._drop(pending)
                return
            pending.data += chunk
            self.buffered_bytes += len(chunk)
            pending.last_data = time.monotonic()
        complete = request_complete(pending.data)
        if complete is False:
            return
        self._hand_over(pending)

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

    def _hand_over(self, pending: Buffered) -> None:
        """The request (or as much as is held of a large one) goes to a thread, whose parser
        reads these bytes first and the socket after them."""
        self._forget(pending)
        conn = pending.conn
        conn.sock.setblocking(True)
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
            conn.initialized = True
        conn.parser.unreader.unread(bytes(pending.data))
        conn.data_ready = True
        super().enqueue_req(conn)

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
                self._drop(pending)
