"""derive_timing / tokens_per_chunk: the formulas of DESIGN.md section 3 on hand-built stamps."""

from __future__ import annotations

import pytest

from tokenswarm.timing import DerivedTiming, derive_timing, tokens_per_chunk

MS = 1_000_000  # ns
T0 = 5_000_000_000_000  # an arbitrary perf_counter_ns origin


def _stamps(*offsets_ms: float) -> list[int]:
    return [T0 + round(o * MS) for o in offsets_ms]


# --- basic formulas ---------------------------------------------------------------------------


def test_basic_formulas_one_token_per_chunk():
    t = derive_timing(T0, _stamps(50, 60, 70, 100), output_tokens=4)
    assert isinstance(t, DerivedTiming)
    assert t.ttft_ms == pytest.approx(50.0)
    assert t.e2e_ms == pytest.approx(100.0)
    assert t.tpot_ms == pytest.approx((100 - 50) / 3)
    assert t.chunk_gaps_ms == pytest.approx([10.0, 10.0, 30.0])
    assert t.itl_source == "spread"
    # one token per chunk: itl == chunk gaps, one sample each
    assert [c for _, c in t.itl] == [1, 1, 1]
    assert [v for v, _ in t.itl] == pytest.approx([10.0, 10.0, 30.0])
    assert t.itl_mean_ms == pytest.approx(50.0 / 3)
    assert t.itl_max_ms == pytest.approx(30.0)


def test_sub_millisecond_precision_is_kept():
    t = derive_timing(T0, [T0 + 1_234_567, T0 + 1_734_568], output_tokens=2)
    assert t.ttft_ms == pytest.approx(1.234567, abs=1e-12)
    assert t.e2e_ms == pytest.approx(1.734568, abs=1e-12)
    assert t.chunk_gaps_ms == pytest.approx([0.500001], abs=1e-12)
    assert t.tpot_ms == pytest.approx(0.500001, abs=1e-12)


def test_ttft_and_e2e_use_send_time_not_first_chunk():
    t = derive_timing(T0 - 200 * MS, _stamps(0, 10), output_tokens=2)
    assert t.ttft_ms == pytest.approx(200.0)
    assert t.e2e_ms == pytest.approx(210.0)


def test_tpot_uses_output_tokens_not_chunk_count():
    # 3 chunks but 21 tokens: tpot = (t_last - t_first) / 20
    t = derive_timing(T0, _stamps(100, 150, 300), output_tokens=21)
    assert t.tpot_ms == pytest.approx(200.0 / 20)
    assert t.e2e_ms == pytest.approx(300.0)


# --- ITL with exact cumulative counts ---------------------------------------------------------


def test_itl_exact_counts_1_4_4_3():
    # chunks carry 1, 4, 4, 3 tokens -> cumulative 1, 5, 9, 12
    chunks = _stamps(20, 60, 100, 130)
    t = derive_timing(T0, chunks, output_tokens=12, chunk_cumulative_tokens=[1, 5, 9, 12])
    assert t.itl_source == "usage"
    assert t.chunk_gaps_ms == pytest.approx([40.0, 40.0, 30.0])
    assert [c for _, c in t.itl] == [4, 4, 3]
    assert [v for v, _ in t.itl] == pytest.approx([10.0, 10.0, 10.0])
    assert sum(c for _, c in t.itl) == 12 - 1
    assert t.itl_mean_ms == pytest.approx(10.0)
    assert t.itl_max_ms == pytest.approx(10.0)
    assert t.tpot_ms == pytest.approx((130 - 20) / 11)
    assert t.ttft_ms == pytest.approx(20.0)


def test_itl_exact_counts_uneven_values():
    chunks = _stamps(10, 12, 30)
    t = derive_timing(T0, chunks, output_tokens=8, chunk_cumulative_tokens=[2, 3, 8])
    assert t.itl == [(pytest.approx(2.0), 1), (pytest.approx(18.0 / 5), 5)]
    assert t.itl_mean_ms == pytest.approx((2.0 + 18.0) / 6)
    assert t.itl_max_ms == pytest.approx(3.6)


def test_itl_exact_counts_non_increasing_usage_counts_one_token():
    t = derive_timing(T0, _stamps(10, 20, 30), output_tokens=3, chunk_cumulative_tokens=[1, 1, 3])
    assert [c for _, c in t.itl] == [1, 2]
    assert [v for v, _ in t.itl] == pytest.approx([10.0, 5.0])


def test_cumulative_of_wrong_length_falls_back_to_spread():
    chunks = _stamps(10, 20, 30, 40)
    t = derive_timing(T0, chunks, output_tokens=4, chunk_cumulative_tokens=[1, 2, 3])
    assert t.itl_source == "spread"
    assert [c for _, c in t.itl] == [1, 1, 1]


# --- ITL spread without counts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_chunks", "output_tokens"),
    [(4, 12), (4, 8), (5, 5), (2, 100), (7, 128), (10, 11), (33, 128), (128, 1024)],
)
def test_itl_spread_sample_count_and_value(n_chunks, output_tokens):
    gaps_ms = [5.0 + (i % 3) for i in range(n_chunks - 1)]
    offsets = [100.0]
    for g in gaps_ms:
        offsets.append(offsets[-1] + g)
    t = derive_timing(T0, _stamps(*offsets), output_tokens=output_tokens)
    assert t.itl_source == "spread"
    assert sum(c for _, c in t.itl) == output_tokens - 1
    per_chunk = (output_tokens - 1) / (n_chunks - 1)
    assert all(c > 0 for _, c in t.itl)
    # every sample is its chunk's gap divided by the tokens that chunk is taken to carry
    assert len(t.itl) == len(gaps_ms)
    for (value, _), gap in zip(t.itl, gaps_ms, strict=True):
        assert value == pytest.approx(gap / per_chunk)
    # sample counts per chunk differ by at most one (even spread)
    counts = [c for _, c in t.itl]
    assert max(counts) - min(counts) <= 1
    # itl_mean_ms is the token-weighted mean of the samples
    total = sum(v * c for v, c in t.itl)
    assert total / (output_tokens - 1) == pytest.approx(t.itl_mean_ms)


def test_itl_spread_4_chunks_12_tokens_explicit():
    t = derive_timing(T0, _stamps(20, 60, 100, 130), output_tokens=12)
    # 11 tokens over 3 gaps: 11/3 per chunk, counts by cumulative rounding 4, 3, 4
    assert [c for _, c in t.itl] == [4, 3, 4]
    assert [v for v, _ in t.itl] == pytest.approx([40 * 3 / 11, 40 * 3 / 11, 30 * 3 / 11])


# --- single token / degenerate ----------------------------------------------------------------


def test_single_token_output():
    t = derive_timing(T0, _stamps(42), output_tokens=1)
    assert t.ttft_ms == pytest.approx(42.0)
    assert t.e2e_ms == pytest.approx(42.0)
    assert t.tpot_ms is None
    assert t.itl == []
    assert t.chunk_gaps_ms == []
    assert t.itl_mean_ms is None
    assert t.itl_max_ms is None


def test_one_chunk_many_tokens():
    t = derive_timing(T0, _stamps(42), output_tokens=16)
    assert t.tpot_ms == 0.0  # all tokens arrived at once
    assert t.itl == [] and t.itl_mean_ms is None


def test_output_tokens_one_with_several_chunks_has_no_tpot_or_itl():
    t = derive_timing(T0, _stamps(10, 20), output_tokens=1)
    assert t.tpot_ms is None
    assert t.itl == []
    assert t.chunk_gaps_ms == pytest.approx([10.0])


def test_itl_max_ignores_zero_count_entries():
    t = DerivedTiming(1.0, 2.0, None, [(99.0, 0), (3.0, 2)], [], "spread")
    assert t.itl_max_ms == 3.0
    assert t.itl_mean_ms == 3.0


# --- tokens_per_chunk -------------------------------------------------------------------------


def test_tokens_per_chunk_no_chunks():
    assert tokens_per_chunk(0, 10) == []
    assert tokens_per_chunk(0, None, []) == []


def test_tokens_per_chunk_exact_from_cumulative():
    assert tokens_per_chunk(4, 12, [1, 5, 9, 12]) == [1.0, 4.0, 4.0, 3.0]
    # the first chunk carries its full cumulative count
    assert tokens_per_chunk(3, 9, [3, 6, 9]) == [3.0, 3.0, 3.0]
    # non-increasing counts are bumped to one token
    assert tokens_per_chunk(3, 3, [1, 1, 3]) == [1.0, 1.0, 2.0]


def test_tokens_per_chunk_spread():
    result = tokens_per_chunk(4, 12)
    assert result == pytest.approx([1.0, 11 / 3, 11 / 3, 11 / 3])
    assert sum(result) == pytest.approx(12.0)


def test_tokens_per_chunk_single_chunk():
    assert tokens_per_chunk(1, 7) == [7.0]
    assert tokens_per_chunk(1, None) == [1.0]
    assert tokens_per_chunk(1, 0) == [1.0]


def test_tokens_per_chunk_no_count_is_one_per_chunk():
    assert tokens_per_chunk(3, None) == [1.0, 1.0, 1.0]
    assert tokens_per_chunk(3, 0) == [1.0, 1.0, 1.0]


def test_tokens_per_chunk_fewer_tokens_than_chunks_is_one_per_chunk():
    assert tokens_per_chunk(5, 3) == [1.0] * 5


def test_tokens_per_chunk_wrong_length_cumulative_uses_spread():
    assert tokens_per_chunk(3, 5, [1, 5]) == pytest.approx([1.0, 2.0, 2.0])


@pytest.mark.parametrize(
    ("n", "out", "cum"),
    [(4, 12, [1, 5, 9, 12]), (4, 12, None), (7, 128, None), (3, 8, [2, 3, 8])],
)
def test_tokens_per_chunk_consistent_with_itl(n, out, cum):
    """The same rules as ITL: tokens after the first chunk == ITL sample count."""
    t = derive_timing(T0, _stamps(*[10.0 * (i + 1) for i in range(n)]), out, cum)
    per_chunk = tokens_per_chunk(n, out, cum)
    assert len(per_chunk) == n
    assert sum(per_chunk[1:]) == pytest.approx(sum(c for _, c in t.itl))
    if cum is None:
        assert per_chunk[0] == 1.0
        assert sum(per_chunk) == pytest.approx(out)
    else:
        assert sum(per_chunk) == pytest.approx(cum[-1])
