import numpy as np
import pytest

from lc_hpo import read_curves
from lc_hpo.predictors import available_predictors, make_predictor

from .conftest import make_curve, saturating

NAMES = ["last_value", "polynomial", "parametric"]


def test_registry_lists_and_builds_predictors():
    assert set(NAMES) <= set(available_predictors())
    with pytest.raises(ValueError, match="unknown predictor 'lstmx'; available"):
        make_predictor("lstmx")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scale, offset", [(100.0, 0.0), (0.01, 5.0)])
def test_forecasts_follow_the_curve_under_any_scale_offset_and_mode(name, scale, offset):
    base = make_curve(saturating(0.9, 0.08, 0.1, 20, noise=0.003, seed=3), max_step=60)
    moved = base.replace(values=offset + scale * base.values)
    flipped = base.replace(values=-base.values, mode="min")
    p = make_predictor(name)
    p.censor_at_bounds = False  # bounds are a property of the units, which this test changes
    f0, f1, f2 = (p.predict([c]) for c in (base, moved, flipped))
    np.testing.assert_allclose(f1.mean, offset + scale * f0.mean, rtol=1e-6)
    np.testing.assert_allclose(f1.std, scale * f0.std, rtol=1e-6)
    np.testing.assert_allclose(f2.mean, -f0.mean, rtol=1e-6)
    assert f1.prob_better(offset + scale * 0.8, "max")[0] == pytest.approx(
        f0.prob_better(0.8, "max")[0], abs=1e-6)
    assert f2.prob_better(-0.8, "min")[0] == pytest.approx(f0.prob_better(0.8, "max")[0],
                                                          abs=1e-6)


def test_parametric_extrapolates_a_saturating_curve_better_than_its_last_value():
    full = saturating(0.9, 0.08, 0.1, 60, noise=0.003, seed=3)
    curve = make_curve(full[:20], max_step=60)
    f = make_predictor("parametric").predict([curve])
    assert abs(f.mean[0, 0] - full[-1]) < abs(full[19] - full[-1])
    lo, hi = f.interval(0.9)
    assert lo[0, 0] <= full[-1] <= hi[0, 0]
    assert f.mean[0, 0] > full[19]  # it expects the improvement to go on


@pytest.mark.parametrize("name", NAMES)
def test_edge_curves_give_finite_forecasts(name):
    p = make_predictor(name)
    curves = [
        make_curve([0.5], max_step=10),  # one point
        make_curve([0.3, 0.3, 0.3, 0.3], max_step=10),  # constant
        make_curve([0.1, np.nan, 0.3, np.inf, 0.4, 0.45], max_step=10),  # diverged entries
        make_curve([0.2, 0.4, 0.5], steps=[1, 5, 9], max_step=40),  # irregular steps
    ]
    f = p.predict(curves)
    assert f.is_finite.all()
    assert f.mean.shape == (4, 1) and (f.std > 0).all()
    assert f.mean[1, 0] == pytest.approx(0.3, abs=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_curve_without_finite_values_gets_a_nan_forecast_not_an_error(name):
    curves = [make_curve([np.nan, np.nan], max_step=5), make_curve([0.1, 0.2, 0.3], max_step=5)]
    f = make_predictor(name).predict(curves)
    assert f.is_finite.tolist() == [False, True]


@pytest.mark.parametrize("name", NAMES)
def test_batched_forecasts_equal_one_by_one(name):
    rng = np.random.default_rng(0)
    curves = [make_curve(saturating(rng.uniform(0.5, 0.9), rng.uniform(0.05, 0.3), 0.1, n,
                                    noise=0.01, seed=i), max_step=50)
              for i, n in enumerate([3, 8, 20, 35])]
    p = make_predictor(name)
    batch = p.predict(curves, steps=[40, 50])
    for i, c in enumerate(curves):
        single = p.predict([c], steps=[40, 50])
        np.testing.assert_allclose(batch.mean[i], single.mean[0], rtol=1e-9)
        np.testing.assert_allclose(batch.std[i], single.std[0], rtol=1e-9)


def test_predict_rejects_bad_arguments():
    p = make_predictor("parametric")
    c = make_curve([0.1, 0.2, 0.3], max_step=10)
    with pytest.raises(TypeError, match="sequence of curves"):
        p.predict(c)
    with pytest.raises(ValueError, match="at least one curve"):
        p.predict([])
    with pytest.raises(ValueError, match="positive"):
        p.predict([c], steps=[0])
    with pytest.raises(ValueError, match="unknown families"):
        make_predictor("parametric", families=("pow", "nope"))


def test_parametric_beats_last_value_on_real_taskset_curves(taskset_files):
    curves = [c for c in read_curves(taskset_files[2])
              if np.isfinite(c.values).all() and c.values.max() < 5][:300]
    finals = np.array([c.final_value for c in curves])
    partial = [c.truncate(20) for c in curves]
    errors = {}
    for name in ("last_value", "parametric"):
        f = make_predictor(name).predict(partial)
        errors[name] = np.mean(np.abs(f.mean[:, 0] - finals))
        lo, hi = f.interval(0.9)
        if name == "parametric":
            coverage = np.mean((finals >= lo[:, 0]) & (finals <= hi[:, 0]))
            assert 0.8 <= coverage <= 0.99
    assert errors["parametric"] < errors["last_value"]


@pytest.mark.parametrize("name", ["default", "last_value", "parametric", "polynomial", "study"])
def test_ready_predictors_survive_a_plain_pickle(name):
    # A process pool (multiprocessing, concurrent.futures) sends its work with the standard pickle.
    import pickle

    from lc_hpo.decision import StoppingRule

    curve = make_curve(saturating(0.9, 0.08, 0.1, 12, noise=0.003, seed=3), max_step=40)
    p = make_predictor(name)
    copy = pickle.loads(pickle.dumps(p))
    np.testing.assert_array_equal(copy.predict([curve]).mean, p.predict([curve]).mean)
    rule = pickle.loads(pickle.dumps(StoppingRule(p)))
    assert rule.decide(curve, 0.99, 5).p_better == StoppingRule(p).decide(curve, 0.99, 5).p_better
