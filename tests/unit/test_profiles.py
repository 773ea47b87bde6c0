"""Engine profiles: request extras per server, lookup and detection from /v1/models."""

from __future__ import annotations

import pytest

from tokenswarm.errors import UserError
from tokenswarm.profiles import AUTO, PROFILE_CHOICES, PROFILES, detect_profile, get_profile


def test_profile_names_and_choices():
    assert set(PROFILES) == {"vllm", "sglang", "xinference", "openai"}
    assert PROFILE_CHOICES[0] == AUTO == "auto"
    assert set(PROFILE_CHOICES) == {"auto", *PROFILES}
    for name, profile in PROFILES.items():
        assert profile.name == name and profile.description


def test_vllm_extras_force_length_and_continuous_usage():
    extras = get_profile("vllm").request_extras(256)
    assert extras == {
        "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
        "ignore_eos": True,
        "min_tokens": 256,
    }


def test_sglang_extras_force_length_without_continuous_usage():
    extras = get_profile("sglang").request_extras(64)
    assert extras == {
        "stream": True,
        "stream_options": {"include_usage": True},
        "ignore_eos": True,
        "min_tokens": 64,
    }


@pytest.mark.parametrize("name", ["openai", "xinference"])
def test_plain_profiles_only_stream_with_usage(name):
    extras = get_profile(name).request_extras(128)
    assert extras == {"stream": True, "stream_options": {"include_usage": True}}
    assert "ignore_eos" not in extras and "min_tokens" not in extras


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_profile_requests_usage(name):
    extras = get_profile(name).request_extras(1)
    assert extras["stream"] is True
    assert extras["stream_options"]["include_usage"] is True


def test_extras_are_fresh_dicts():
    profile = get_profile("vllm")
    first = profile.request_extras(10)
    first["stream_options"]["include_usage"] = False
    first["min_tokens"] = 999
    again = profile.request_extras(10)
    assert again["stream_options"]["include_usage"] is True
    assert again["min_tokens"] == 10


def test_get_profile_unknown_is_user_error_listing_choices():
    with pytest.raises(UserError) as info:
        get_profile("tgi")
    message = str(info.value)
    assert "'tgi'" in message
    for name in PROFILE_CHOICES:
        assert name in message


def test_get_profile_auto_is_not_a_profile():
    with pytest.raises(UserError):
        get_profile("auto")


@pytest.mark.parametrize(
    ("owned_by", "expected"),
    [
        ("vllm", "vllm"),
        ("VLLM", "vllm"),
        ("vllm-project", "vllm"),
        ("sglang", "sglang"),
        ("SGLang", "sglang"),
        ("xinference", "xinference"),
        ("Xinference", "xinference"),
        ("openai", "openai"),
        ("system", "openai"),
        ("organization-owner", "openai"),
        ("", "openai"),
        (None, "openai"),
    ],
)
def test_detect_profile(owned_by, expected):
    assert detect_profile(owned_by) is PROFILES[expected]
