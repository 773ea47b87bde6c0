"""Line protocol encoding of Point (escaping, types, N/A fields left out)."""

from __future__ import annotations

from tokenswarm.influx.point import Point, encode, encode_all
from tokenswarm.telemetry.sample import GpuSample


def test_types_and_timestamp():
    line = encode(Point("gpu", {"host": "h1"}, {"a": 1.5, "b": 3, "c": True, "d": "x"}, 17))
    assert line == 'gpu,host=h1 a=1.5,b=3i,c=true,d="x" 17'


def test_escaping():
    point = Point("my meas,x", {"t k": "v,=1 "}, {"f=1": 'say "hi"\\\n'}, 5)
    assert encode(point) == 'my\\ meas\\,x,t\\ k=v\\,\\=1\\  f\\=1="say \\"hi\\"\\\\\\n" 5'


def test_none_and_nonfinite_fields_are_absent_never_zero():
    line = encode(Point("gpu", {}, {"power_w": None, "util_pct": float("nan"), "temp_c": 40.0}))
    assert line == "gpu temp_c=40.0"


def test_point_without_fields_encodes_to_nothing():
    assert encode(Point("gpu", {"host": "h"}, {"x": None})) == ""
    assert encode_all([Point("gpu", {}, {}), Point("m", {}, {"v": 1})]) == ["m v=1i"]


def test_empty_tag_values_are_left_out_and_tags_sorted():
    line = encode(Point("m", {"z": "1", "a": "", "b": "2"}, {"v": 1.0}, 9))
    assert line == "m,b=2,z=1 v=1.0 9"


def test_gpu_sample_point_tags_and_info_fields():
    sample = GpuSample("hy-smi", "hygon", "3", uuid="abc", model="K100_AI",
                       fields={"util_pct": 97.0, "vram_used_bytes": 1 << 30},
                       info={"serial": "TRCW1"})
    line = encode(sample.to_point("run-1", "gpu-host", 1000))
    assert line == (
        "gpu,gpu=3,host=gpu-host,model=K100_AI,run_id=run-1,tool=hy-smi,uuid=abc,vendor=hygon "
        'util_pct=97.0,vram_used_bytes=1073741824i,serial="TRCW1" 1000'
    )
