"""Socket reads that carry the time their bytes arrived (Linux ``SO_TIMESTAMPNS``).

Why: a single-threaded client reads a burst of events (a batching engine's decode step sends
every stream's token at once) one socket after another, so with a userspace clock the last
event read is stamped late by the time spent on all the others. With ``SO_TIMESTAMPNS`` set,
the kernel stamps each incoming packet when it is received and ``recvmsg`` returns that stamp
as ancillary data (``SCM_TIMESTAMPNS``, a ``struct timespec`` on CLOCK_REALTIME), so the stamp
no longer depends on when Python got to the socket. For TCP the stamp is that of the last
packet the read returned: events that arrived in separate packets but are read together carry
the later one's time (still no later than a userspace stamp taken after the read). On rare
reads (about 1 in 300 on loopback here) the kernel sends no stamp: that read falls back to the
userspace stamp.

Clock: stamps are converted to ``time.perf_counter_ns`` (CLOCK_MONOTONIC, the clock of every
other tokenswarm interval) with ``offset = time_ns() - perf_counter_ns()`` sampled when the
request is sent (:meth:`Receiver.sync`): ``arrival = kernel_ns - offset``. A converted stamp is
used only if it lies in ``[now - MAX_AGE_NS, now]`` (``now`` = userspace stamp after the read),
so a wall-clock step during a request falls back to the userspace stamp instead of lying.

Where it applies: plain TCP sockets on Linux (gevent sockets too: gevent's ``recvmsg`` waits
for readability like ``recv``). TLS sockets (no ``recvmsg``), other platforms, or
``TOKENSWARM_KERNEL_TIMESTAMPS=0`` in the environment use ``recv`` and a userspace
``perf_counter_ns`` stamp taken right after the read (:attr:`Receiver.kernel` says which).
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux asm-generic value
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
_TIMESPEC = struct.Struct("@qq")
ANC_SIZE = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 0
MAX_AGE_NS = 1_000_000_000
READ_SIZE = 16384  # a burst of events is far smaller; big reads cost a big allocation
ENV = "TOKENSWARM_KERNEL_TIMESTAMPS"


# Connections of this process by stamp source (health reports whether every one had kernel
# stamps: then the event loop's lag delays reading, not stamping).
CONNECTIONS = {"kernel": 0, "userspace": 0}


def wanted() -> bool:
    """Kernel stamps are attempted on Linux unless the environment turns them off."""
    return sys.platform.startswith("linux") and os.environ.get(ENV, "1") != "0"


def enable(sock: Any) -> bool:
    """Ask the kernel to stamp ``sock``'s incoming packets; False where it cannot."""
    if not wanted() or not ANC_SIZE or not hasattr(sock, "recvmsg"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


class Receiver:
    """Reads one socket; :meth:`recv` returns ``(data, arrival perf_counter_ns)``.

    ``wait`` (optional) blocks until the socket is readable; with it the socket is
    non-blocking and, after a read that drained it, the next read waits first (a streaming
    read almost never finds data already there, so this saves a failing syscall per event).
    Without it, ``sock.recv`` blocks by itself (gevent TLS sockets).
    """

    __slots__ = ("_drained", "_offset", "_sock", "_wait", "kernel", "last_ns")

    def __init__(self, sock: Any, kernel: bool, wait: Callable[[], None] | None = None) -> None:
        CONNECTIONS["kernel" if kernel else "userspace"] += 1
        self._sock = sock
        self._wait = wait
        self._drained = True
        self.kernel = kernel
        self._offset = 0
        self.last_ns = 0  # arrival of the last bytes read (idle watchdogs read it)

    def sync(self) -> None:
        """Sample the wall-to-monotonic offset (once per request: cheap, tracks clock slews);
        the next read waits for readability first (a request was just sent)."""
        self._offset = time.time_ns() - time.perf_counter_ns()
        self._drained = True

    def recv(self) -> tuple[bytes, int]:
        """The next bytes (b"" at EOF) and when they arrived; socket errors propagate."""
        wait = self._wait
        while True:
            if wait is not None and self._drained:
                wait()
            try:
                return self.read_ready()
            except BlockingIOError:
                self._drained = True

    def read_ready(self) -> tuple[bytes, int]:
        """One read of a socket that is ready (BlockingIOError if it was not after all)."""
        if self.kernel:
            data, ancdata, _flags, _addr = self._sock.recvmsg(READ_SIZE, ANC_SIZE)
        else:
            data, ancdata = self._sock.recv(READ_SIZE), ()
        now = time.perf_counter_ns()
        self._drained = len(data) < READ_SIZE
        for level, kind, value in ancdata:
            if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS:
                sec, nsec = _TIMESPEC.unpack_from(value)
                arrival = sec * 1_000_000_000 + nsec - self._offset
                if now - MAX_AGE_NS <= arrival <= now:
                    self.last_ns = arrival
                    return data, arrival
        self.last_ns = now
        return data, now
