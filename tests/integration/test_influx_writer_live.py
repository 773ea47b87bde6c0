"""InfluxWriter against a real influxd 1.6.7: exact round trips, one-line errors, an InfluxDB
restart mid-stream, a dead server at close, gevent, and the write throughput."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time

import pytest
from influxd import Influxd, InfluxDb

from tokenswarm.influx.point import Point
from tokenswarm.influx.writer import InfluxConfig, InfluxError, InfluxWriter

pytestmark = pytest.mark.integration
T0 = 1_764_100_000_000_000_000  # ns


def writer_for(url: str, database: str, **kw: object) -> InfluxWriter:
    kw = {"flush_interval_s": 0.05, "max_backoff_s": 0.1, "timeout_s": 2.0, **kw}
    return InfluxWriter(InfluxConfig(url=url, database=database, **kw))  # type: ignore[arg-type]


def test_points_round_trip_exactly_with_escaping_and_ns_timestamps(influxd, influx_db):
    tags = ["plain", "a b", "a,b", "a=b", 'q"uote', "back\\slash"]
    expected = {}
    pts = []
    for i in range(1000):
        tag = tags[i % len(tags)]
        # 1000 points within 1 microsecond steps: all share one millisecond per series.
        fields = {"i": i, "f": i / 7, "s": f'say "hi", x={i} \\ ok', "b": i % 2 == 0}
        pts.append(Point("tokenswarm request", {"engine": tag, "w": "1"}, fields, T0 + i * 1000))
        expected[T0 + i * 1000] = (tag, i, i / 7, fields["s"], i % 2 == 0)
    writer = writer_for(influxd.url, influx_db.name, batch_size=300)
    assert writer.check().startswith("1.6.7")
    writer.start()
    writer.write(pts)
    assert writer.flush(10)
    stats = writer.close()
    assert (stats.points_written, stats.points_dropped, stats.batches_failed) == (1000, 0, 0)
    rows = influx_db.query('SELECT "engine", "i", "f", "s", "b" FROM "tokenswarm request"')
    got = {r["time"]: (r["engine"], r["i"], r["f"], r["s"], r["b"]) for r in rows}
    assert got == expected


def test_missing_database_is_one_line_with_the_fix(influxd, influx_db):
    name = influx_db.name + "_missing"
    with pytest.raises(InfluxError) as info:
        writer_for(influxd.url, name).check()
    message = str(info.value)
    assert "\n" not in message
    assert f"database '{name}' does not exist at {influxd.url}" in message
    assert "CREATE DATABASE" in message and "create_database" in message
    writer_for(influxd.url, name, create_database=True).check()
    assert {"name": name} in InfluxDb(influxd.url, name).query("SHOW DATABASES")


def test_writes_to_a_missing_database_are_dropped_not_retried(influxd, influx_db):
    writer = writer_for(influxd.url, influx_db.name + "_gone")
    writer.start()
    writer.write([Point("m", {}, {"v": 1}, T0)])
    assert writer.flush(5)
    stats = writer.close()
    assert (stats.points_dropped, stats.batches_failed, stats.retries) == (1, 1, 0)
    assert "HTTP 404 database not found" in stats.last_error


def test_unreachable_and_v2_on_1x_are_one_line_errors(influxd):
    dead = Influxd()
    dead.start()
    url = dead.url
    dead.cleanup()
    with pytest.raises(InfluxError, match=f"^InfluxDB at {url} is unreachable: ConnectionError"):
        writer_for(url, "x").check()
    with pytest.raises(InfluxError, match=r"1\.6\.7~rc0 .* has no /api/v2 endpoints.*use api v1"):
        InfluxWriter(InfluxConfig(url=influxd.url, api="v2", bucket="b")).check()


def test_influxdb_restart_mid_stream_loses_only_what_overflowed(own_influxd, caplog):
    db = InfluxDb(own_influxd.url, "restart").create()
    writer = writer_for(own_influxd.url, db.name, max_buffer_points=500, batch_size=100)
    writer.check()
    writer.start()
    with caplog.at_level(logging.WARNING, "tokenswarm.influx"):
        writer.write(Point("m", {}, {"seq": i}, T0 + i) for i in range(200))
        assert writer.flush(5)
        own_influxd.stop()
        writer.write(Point("m", {}, {"seq": i}, T0 + i) for i in range(200, 1200))
        down = writer.stats()
        assert (down.buffered, down.points_dropped) == (500, 500)  # oldest 500 pushed out
        assert not writer.flush(0.3)  # still down: kept, not dropped
        own_influxd.start()  # same port, same data
        assert writer.flush(10)
    stats = writer.close()
    assert stats.retries >= 1
    assert (stats.points_written, stats.points_dropped) == (700, 500)
    assert db.count("m", "seq") == 1200 - stats.points_dropped == stats.points_written
    rows = db.query('SELECT min("seq"), max("seq") FROM "m" WHERE "seq" >= 200')
    assert (rows[0]["min"], rows[0]["max"]) == (700, 1199)  # the newest were kept
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and "is failing" in messages[0] and "recovered" in messages[1]


def test_close_with_a_dead_server_keeps_its_deadline(own_influxd):
    writer = writer_for(own_influxd.url, "x", create_database=True)
    writer.check()
    writer.start()
    own_influxd.stop()
    writer.write(Point("m", {}, {"v": i}, T0 + i) for i in range(300))
    began = time.monotonic()
    stats = writer.close(timeout_s=1.0)
    assert time.monotonic() - began < 1.3
    assert (stats.points_written, stats.points_dropped, stats.buffered) == (0, 300, 0)


def test_gevent_patched_process_delivers_everything(influxd, influx_db):
    """Locust workers run the writer with threading patched into greenlets."""
    code = textwrap.dedent(f"""
        from gevent import monkey; monkey.patch_all()
        import gevent
        from tokenswarm.influx.point import Point
        from tokenswarm.influx.writer import InfluxConfig, InfluxWriter
        w = InfluxWriter(InfluxConfig(url={influxd.url!r}, database={influx_db.name!r},
                                      flush_interval_s=0.05))
        w.check(); w.start()
        def user(u):
            for i in range(1000):
                w.write([Point("r", {{"u": str(u)}}, {{"i": i}}, {T0} + i)])
                if i % 100 == 0:
                    gevent.sleep(0)
        gevent.joinall([gevent.spawn(user, u) for u in range(10)])
        s = w.close(5)
        print(s.points_written, s.points_dropped)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["10000", "0"]
    assert influx_db.count("r", "i") == 10_000


def test_write_throughput(influxd, influx_db):
    n = 100_000
    pts = [Point("tokenswarm_request", {"scenario": "s", "status": str(200 + i % 3),
                                        "worker": str(i % 4)},
                 {"ttft_ms": i / 3, "output_tokens": i}, T0 + i) for i in range(n)]
    writer = writer_for(influxd.url, influx_db.name, max_buffer_points=n)
    writer.start()
    began = time.perf_counter()
    writer.write(pts)
    enqueued = time.perf_counter() - began
    assert writer.flush(30)
    elapsed = time.perf_counter() - began
    writer.close()
    print(f"\n{n} points: enqueue {n / enqueued:,.0f}/s, end to end {n / elapsed:,.0f}/s")
    assert influx_db.count("tokenswarm_request", "output_tokens") == n
    assert n / elapsed > 20_000
