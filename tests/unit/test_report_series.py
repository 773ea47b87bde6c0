"""The time series behind the report's plots: token arrival rebuilt from request rows, and
long series thinned so an hour-long run still gives a small HTML file."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tokenswarm.report.series import LINE_POINTS, bucket_seconds, output_tokens_per_s, thin

T0 = 1_795_660_800_000_000_000


def _rows(*requests: tuple[float, float, float, int]) -> pd.DataFrame:
    """(start s after T0, ttft ms, e2e ms, output tokens) per request."""
    return pd.DataFrame(
        [
            {"start_unix_ns": T0 + int(s * 1e9), "ttft_ms": ttft, "e2e_ms": e2e, "output_tokens": n}
            for s, ttft, e2e, n in requests
        ]
    )


def test_first_token_at_ttft_the_rest_spread_until_e2e():
    # 21 tokens: the first at 0.5 s, 20 spread over 0.6-2.5 s (100 ms cells): 1 + 4 | 10 | 6
    tps = output_tokens_per_s(_rows((0.0, 500.0, 2500.0, 21)), T0)
    assert tps.to_dict() == {0.0: 5.0, 1.0: 10.0, 2.0: 6.0}


def test_tokens_are_conserved_and_failed_rows_ignored():
    rng = np.random.default_rng(1)
    rows = _rows(
        *[
            (
                float(rng.uniform(0, 60)),
                float(rng.uniform(5, 500)),
                float(rng.uniform(600, 9000)),
                int(rng.integers(1, 300)),
            )
            for _ in range(500)
        ]
    )
    failed = _rows((1.0, float("nan"), float("nan"), 0))
    tps = output_tokens_per_s(pd.concat([rows, failed]), T0, bucket_s=4.0)
    assert tps.index[1] - tps.index[0] == 4.0
    assert np.isclose((tps * 4.0).sum(), rows["output_tokens"].sum())


def test_long_runs_are_thinned():
    assert bucket_seconds(600) == 1.0 and bucket_seconds(3 * 3600) == 8.0
    t = pd.Series(np.arange(7200.0))
    x, y = thin(t, pd.Series(np.where(t < 3600, 100.0, 300.0)))
    assert len(x) <= LINE_POINTS and y[0] == 100.0 and y[-1] == 300.0
    assert np.isclose(y.mean(), 200.0, rtol=0.01)
    short_x, _ = thin(pd.Series([0.0, 1.0]), pd.Series([1.0, float("nan")]))
    assert short_x.tolist() == [0.0]
