"""A TCP proxy on loopback that can forget its connections the way a server that failed over,
or a load balancer or NAT in between, does: the far end is gone, nobody tells the client, and
the first bytes the client sends next are answered with a reset. The socket of a connection
forgotten like this looks fine (nothing to read) until it is used."""

import socket
import struct
import threading
from dataclasses import dataclass, field


@dataclass
class _Pair:
    client: socket.socket
    upstream: socket.socket
    forgotten: threading.Event = field(default_factory=threading.Event)


class ForgetfulProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._pairs: list[_Pair] = []
        self._lock = threading.Lock()

    def start(self) -> "ForgetfulProxy":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # stopped
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            pair = _Pair(client, upstream)
            with self._lock:
                self._pairs.append(pair)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(pair, source, target), daemon=True
                ).start()

    def _pump(self, pair: _Pair, source: socket.socket, target: socket.socket) -> None:
        """Copy one direction of `pair` until either side ends it or it is forgotten."""
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if pair.forgotten.is_set():
                if source is pair.client:
                    # The client speaks to a connection nobody knows any more: a reset.
                    pair.client.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    pair.client.close()
                return  # and the client is told nothing until it speaks
            try:
                if data:
                    target.sendall(data)
                    continue
            except OSError:
                pass
            self._end(pair)  # one side ended it
            return

    def _end(self, pair: _Pair) -> None:
        """A connection one side ended: close both, and it is no longer open to forget."""
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
        _close(pair.client)
        _close(pair.upstream)

    def forget_all(self) -> int:
        """Forget every open connection (the server's ends close); how many there were."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            pair.forgotten.set()
            _close(pair.upstream)
        return len(pairs)

    def stop(self) -> None:
        self._listener.close()
        self.forget_all()


def _close(side: socket.socket) -> None:
    try:
        side.shutdown(socket.SHUT_RDWR)  # wakes a recv() waiting on it in another thread
    except OSError:
        pass
    side.close()
