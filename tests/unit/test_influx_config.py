"""InfluxConfig: parsing from mappings and the environment, one-line errors; retry timing."""

from __future__ import annotations

import pytest

from tokenswarm.errors import UserError
from tokenswarm.influx.config import InfluxConfig
from tokenswarm.influx.transport import backoff_s, retry_after_s


def test_from_mapping_converts_strings_like_env_and_yaml():
    config = InfluxConfig.from_mapping({
        "url": " http://127.0.0.1:8086/ ", "batch_size": "1_000", "flush_interval_s": "0.5",
        "create_database": "yes", "max_buffer_points": 7, "password": " p ", "username": "u",
    })
    assert config.base_url == "http://127.0.0.1:8086"
    assert (config.batch_size, config.flush_interval_s, config.max_buffer_points) == (1000, 0.5, 7)
    assert config.create_database is True
    assert config.password == " p "  # secrets are taken verbatim


def test_from_env_reads_prefixed_variables_only():
    env = {"TOKENSWARM_INFLUX_URL": "https://influx.example:8086", "TOKENSWARM_INFLUX_API": "v2",
           "TOKENSWARM_INFLUX_BUCKET": "b", "TOKENSWARM_INFLUX_TOKEN": "tok",
           "TOKENSWARM_INFLUX_CREATE_DATABASE": "0", "OTHER_BATCH_SIZE": "x"}
    config = InfluxConfig.from_env(environ=env)
    assert (config.api, config.bucket, config.token) == ("v2", "b", "tok")
    assert config.database == "tokenswarm"
    assert config.create_database is False
    with pytest.raises(UserError, match="TOKENSWARM_INFLUX_URL is not set"):
        InfluxConfig.from_env(environ={})
    assert InfluxConfig.from_env("X_", {"X_URL": "http://h:1"}).url == "http://h:1"


@pytest.mark.parametrize(("values", "message"), [
    ({}, "url is required"),
    ({"url": "127.0.0.1:8086"}, "url must look like http://host:8086"),
    ({"url": "ftp://h"}, "url must look like"),
    ({"url": "http://h", "api": "v3"}, "api must be one of auto, v1, v2"),
    ({"url": "http://h", "api": "v2"}, "api v2 needs a bucket"),
    ({"url": "http://h", "api": "v1", "database": ""}, "api v1 needs a database"),
    ({"url": "http://h", "username": "u"}, "username and password must be given together"),
    ({"url": "http://h", "batch_size": "0"}, "batch_size must be >= 1"),
    ({"url": "http://h", "batch_size": "ten"}, "batch_size must be a int, got 'ten'"),
    ({"url": "http://h", "batch_size": 2.5}, "batch_size must be a int"),
    ({"url": "http://h", "timeout_s": "nan"}, "timeout_s must be > 0"),
    ({"url": "http://h", "flush_interval_s": -1}, "flush_interval_s must be > 0"),
    ({"url": "http://h", "create_database": "maybe"}, "create_database must be a bool"),
    ({"url": "http://h", "token": 5}, "token must be a string"),
    ({"url": "http://h", "tokn": "x"}, "unknown InfluxDB setting.*tokn"),
])
def test_invalid_settings_raise_one_line_user_errors(values, message):
    with pytest.raises(UserError, match=message) as info:
        InfluxConfig.from_mapping(values)
    assert "\n" not in str(info.value)


def test_backoff_doubles_from_a_quarter_second_and_is_capped():
    assert [backoff_s(n, cap_s=3.0) for n in range(1, 8)] == [0.25, 0.5, 1, 2, 3, 3, 3]
    assert backoff_s(10_000, cap_s=30.0) == 30.0  # no overflow after a long outage


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_s("7") == 7.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412500.0) == 0.0
    assert retry_after_s(None) is None
    assert retry_after_s("soon") is None
