import numpy as np
import pytest
from scipy import stats

from lc_hpo import Forecast


def _mixture():
    rng = np.random.default_rng(1)
    N, K, H = 4, 3, 2
    return Forecast(np.ones((N, H)), rng.random((N, K, H)), rng.normal(size=(N, K, H)),
                    rng.random((N, K, H)) + 0.1)


def test_single_gaussian_matches_scipy():
    f = Forecast.gaussian(np.array([[10]]), np.array([[1.0]]), np.array([[2.0]]))
    assert f.cdf(0.0)[0, 0] == pytest.approx(stats.norm(1, 2).cdf(0.0))
    assert f.logpdf(0.5)[0, 0] == pytest.approx(stats.norm(1, 2).logpdf(0.5))
    assert f.quantile(0.95)[0, 0] == pytest.approx(stats.norm(1, 2).ppf(0.95), rel=1e-8)
    assert f.prob_better(0.0, "max")[0] == pytest.approx(stats.norm(1, 2).sf(0.0))
    assert f.prob_better(0.0, "min")[0] == pytest.approx(stats.norm(1, 2).cdf(0.0))


def test_mixture_quantiles_invert_the_cdf_and_samples_agree():
    f = _mixture()
    q = f.quantile(np.array([0.05, 0.5, 0.95]))
    for i, level in enumerate([0.05, 0.5, 0.95]):
        np.testing.assert_allclose(f.cdf(q[:, i, :]), level, atol=1e-8)
    s = f.sample(20000, np.random.default_rng(0))
    np.testing.assert_allclose(s.mean(axis=1), f.mean, atol=0.05)
    np.testing.assert_allclose(s.std(axis=1), f.std, rtol=0.05)


def test_prob_better_takes_one_mode_per_curve():
    f = Forecast.gaussian(np.ones((2, 1)), np.zeros((2, 1)), np.ones((2, 1)))
    p = f.prob_better(np.array([1.0, 1.0]), ["max", "min"])
    assert p[0] == pytest.approx(stats.norm.sf(1.0)) and p[1] == pytest.approx(stats.norm.cdf(1.0))
    with pytest.raises(ValueError, match="one mode per curve"):
        f.prob_better(1.0, ["max"])
    with pytest.raises(ValueError, match="mode must be"):
        f.prob_better(1.0, "up")


def test_prob_better_stays_a_probability_far_in_the_tails():
    # seven components whose weights sum to 1 only up to rounding: the CDF may exceed 1 by an ulp
    w = np.full((1, 7, 1), 1 / 7)
    f = Forecast(np.ones((1, 1)), w, np.zeros((1, 7, 1)), np.full((1, 7, 1), 0.01))
    for ref in (-50.0, 50.0):
        for mode in ("max", "min"):
            p = f.prob_better(ref, mode)[0]
            assert 0.0 <= p <= 1.0


def test_censored_forecast_agrees_with_clipped_samples():
    f = _mixture().censored(np.array([-0.5, -np.inf, 0.0, -1.0]),
                            np.array([0.5, 0.2, np.inf, 1.0]))
    s = f.sample(200_000, np.random.default_rng(0))
    assert (s.min(axis=(1, 2)) >= f.lower).all() and (s.max(axis=(1, 2)) <= f.upper).all()
    np.testing.assert_allclose(f.mean, s.mean(axis=1), atol=0.01)
    np.testing.assert_allclose(f.std, s.std(axis=1), atol=0.01)
    q = f.quantile(np.array([0.05, 0.5, 0.95]))
    np.testing.assert_allclose(q, np.quantile(s, [0.05, 0.5, 0.95], axis=1).transpose(1, 0, 2),
                               atol=0.02)
    for mode, ref in (("max", 0.1), ("min", 0.1), ("max", -0.4)):
        gain = np.maximum((s - ref) * (1 if mode == "max" else -1), 0).mean(axis=1)[:, -1]
        np.testing.assert_allclose(f.expected_improvement(ref, mode), gain, atol=0.005)
        better = ((s > ref) if mode == "max" else (s < ref)).mean(axis=1)[:, -1]
        np.testing.assert_allclose(f.prob_better(ref, mode), better, atol=0.005)


def test_nothing_beats_a_reference_on_the_bound_but_a_reference_beyond_it_lifts_the_bound():
    f = Forecast.gaussian(np.ones((1, 1)), np.array([[0.95]]), np.array([[0.05]]))
    acc = f.censored(0.0, 1.0)
    assert acc.prob_better(1.0, "max")[0] == 0.0  # a perfect incumbent cannot be beaten
    assert acc.expected_improvement(1.0, "max")[0] == 0.0
    assert acc.quantile(0.9)[0, 0] == 1.0 and acc.mean[0, 0] < f.mean[0, 0]
    # an incumbent of 1.1 shows the metric is not bounded by 1: the mixture answers uncensored
    assert acc.prob_better(1.1, "max")[0] == pytest.approx(f.prob_better(1.1, "max")[0])
    assert acc.expected_improvement(1.1, "max")[0] == pytest.approx(
        f.expected_improvement(1.1, "max")[0])
    loss = Forecast.gaussian(np.ones((1, 1)), np.array([[0.02]]), np.array([[0.05]])).censored(
        0.0, np.inf)
    assert loss.prob_better(0.0, "min")[0] == 0.0 and loss.quantile(0.05)[0, 0] == 0.0
    assert loss.subset([0]).lower[0] == 0.0 and loss.at(-1).lower[0] == 0.0
    joined = Forecast.concat([loss, acc])
    np.testing.assert_array_equal(joined.upper, [np.inf, 1.0])
    with pytest.raises(ValueError, match="lower bound must not exceed"):
        f.censored(1.0, 0.0)
