"""Kernel receive timestamps: a read's stamp is when its bytes arrived, not when it happened."""

from __future__ import annotations

import socket
import sys
import time

import pytest

from tokenswarm import kernel_timestamps
from tokenswarm.kernel_timestamps import Receiver, enable

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux feature")
WAIT_S = 0.03


@pytest.fixture
def pair():
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    yield client, peer
    for s in (client, peer, server):
        s.close()


def _late_read(receiver: Receiver, peer: socket.socket) -> tuple[int, int, int, bytes]:
    """Bytes sent at t_sent, read at least WAIT_S later: (t_sent, arrival stamp, t_read, data)."""
    receiver.sync()
    t_sent = time.perf_counter_ns()
    peer.sendall(b"data: x\n\n")
    time.sleep(WAIT_S)  # the bytes wait in the socket, as behind a burst of other events
    data, arrival = receiver.recv()
    return t_sent, arrival, time.perf_counter_ns(), data


def test_kernel_stamp_is_the_arrival_not_the_read(pair):
    client, peer = pair
    assert enable(client)
    receiver = Receiver(client, kernel=True)
    stamped = []
    for _ in range(3):  # the kernel leaves out the stamp on rare reads (~1 in 300 here)
        t_sent, arrival, t_read, data = _late_read(receiver, peer)
        assert data == b"data: x\n\n"
        assert receiver.last_ns == arrival
        # stamped on arrival (tens of us after the send), not at the read WAIT_S later; 1 ms
        # of slack for the wall/monotonic offset sampled on a busy machine
        stamped.append(t_sent - 1_000_000 <= arrival < t_sent + (t_read - t_sent) / 2)
    assert sum(stamped) >= 2, stamped


def test_userspace_fallback_stamps_the_read(pair, monkeypatch):
    client, peer = pair
    monkeypatch.setenv(kernel_timestamps.ENV, "0")
    assert not enable(client)
    receiver = Receiver(client, kernel=False)
    t_sent, arrival, t_read, _ = _late_read(receiver, peer)
    assert arrival - t_sent >= WAIT_S * 1e9 and arrival <= t_read


def test_a_stamp_off_the_clock_falls_back_to_the_read_time(pair):
    client, peer = pair
    assert enable(client)
    receiver = Receiver(client, kernel=True)
    receiver.sync()
    receiver._offset -= 5 * 10**9  # as if the wall clock stepped 5 s during the request
    peer.sendall(b"x")
    before = time.perf_counter_ns()
    data, arrival = receiver.recv()
    assert data == b"x"
    assert before <= arrival <= time.perf_counter_ns()


def test_eof_reads_empty(pair):
    client, peer = pair
    enable(client)
    peer.close()
    assert Receiver(client, kernel=True).recv()[0] == b""
