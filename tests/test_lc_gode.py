"""LC-GODE: the RK4 solver, the graph encoder, fitting, forecasting, checkpoints, ablation, registry."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from lc_hpo.arch import from_nb201
from lc_hpo.curve import Curve
from lc_hpo.learned import CheckpointError, LCGODENoGraphPredictor, LCGODEPredictor, load_predictor
from lc_hpo.learned.graph_encoder import GraphBatch, GraphEncoder
from lc_hpo.learned.ode import EULER, RK4, interpolate, odeint_fixed, time_grid
from lc_hpo.predictors import available_predictors, make_predictor

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
TINY = dict(latent=4, hidden=8, samples=4, ode_steps=4, max_steps=12, eval_every=6, batch_size=8,
            patience=3, max_minutes=1.0)


def _cell(rng: np.random.Generator) -> str:
    ops = rng.choice(OPS, 6)
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)


def nb201_like(n: int = 16, steps: int = 30, seed: int = 0) -> list[Curve]:
    """Accuracy curves in percent whose ceiling grows with the number of convolutions of the cell."""
    rng = np.random.default_rng(seed)
    out = []
    t = np.arange(1, steps + 1)
    for i in range(n):
        cell = _cell(rng)
        convs = cell.count("conv")
        final = 40 + 8 * convs + rng.normal(0, 1)
        v = final - (final - 15) * np.exp(-t / (4 + convs)) + rng.normal(0, 0.5, steps)
        out.append(Curve(steps=t, values=v, mode="max", task="nb201-like", config_id=str(i),
                         arch=from_nb201(cell), max_step=steps))
    return out


@pytest.fixture(scope="module")
def fitted() -> LCGODEPredictor:
    torch.set_num_threads(1)
    return LCGODEPredictor(**TINY).fit(nb201_like())


def test_rk4_is_fourth_order_and_exact_on_a_linear_ode():
    # dz/dt = -z from t0 = 0 to t1 = 1 per row (rows with different intervals): z(1) = z0 e^-1.
    z0 = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    t0 = torch.tensor([0.0, 0.5], dtype=torch.float64)
    t1 = torch.tensor([1.0, 1.5], dtype=torch.float64)
    errors = {}
    for tab in (RK4, EULER):
        errs = []
        for n in (4, 8, 16):
            zs = odeint_fixed(lambda t, z: -z, z0, t0, t1, n, tab)
            errs.append(float((zs[-1] - z0 * math.exp(-1.0)).abs().max()))
        errors[tab.order] = errs
        # Halving the step divides the error by about 2^order.
        for a, b in zip(errs, errs[1:]):
            assert a / b == pytest.approx(2.0 ** tab.order, rel=0.15)
    assert errors[4][-1] < 1e-6
    # dz/dt = 1 (a polynomial of degree 0 in t) is integrated exactly, even in one step.
    zs = odeint_fixed(lambda t, z: torch.ones_like(z), z0, t0, t1, 1)
    assert torch.allclose(zs[-1], z0 + 1.0)
    # dz/dt = 3t^2: RK4 is exact for polynomials up to degree 3 (Simpson's rule).
    zs = odeint_fixed(lambda t, z: 3 * t[:, None] ** 2, z0, t0, t1, 2)
    assert torch.allclose(zs[-1], z0 + (t1**3 - t0**3)[:, None])
    grid = time_grid(t0, t1, 4)
    assert grid.shape == (2, 5) and torch.allclose(grid[:, -1], t1)
    y = interpolate(grid, 2 * grid, torch.tensor([[0.25, 0.6], [0.75, 9.0]], dtype=torch.float64))
    assert torch.allclose(y, torch.tensor([[0.5, 1.2], [1.5, 3.0]], dtype=torch.float64))


def test_graph_encoder_pads_graphs_of_any_size():
    g = [from_nb201("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"),
         from_nb201("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|"
                    "nor_conv_3x3~1|nor_conv_3x3~2|")]
    batch = GraphBatch.from_graphs(g)
    assert batch.ids.shape == (2, 10) and batch.mask.sum().item() == 6 + 10
    for layer in ("gcn", "gat"):
        enc = GraphEncoder(64, out_dim=5, layer=layer)
        emb = enc(batch)
        assert emb.shape == (2, 5) and torch.isfinite(emb).all()
        # Padding does not change a graph's embedding.
        alone = enc(GraphBatch.from_graphs(g[:1]))
        assert torch.allclose(alone[0], emb[0], atol=1e-5)


def test_fit_and_forecast(fitted):
    curves = nb201_like(6, seed=1)
    partial = [c.observed(0.3) for c in curves]
    f = fitted.predict(partial, steps=np.array([15, 20, 30]))
    assert f.means.shape == (6, fitted.samples, 3)
    assert f.is_finite.all() and np.all(f.std > 0)
    lo, hi = f.interval(0.9)
    assert np.all(lo <= hi) and np.all(np.isfinite(lo))
    meta = fitted.metadata_
    assert meta["trained_on"]["validation_split"] == "by architecture"
    assert 0.0 <= meta["calibration"]["validation_coverage90"] <= 1.0
    # Same inputs, same forecast (the trajectories are drawn with a fixed seed).
    again = fitted.predict(partial, steps=np.array([15, 20, 30]))
    assert np.array_equal(f.means, again.means)


def test_checkpoint_round_trip_is_weights_only(fitted, tmp_path):
    path = tmp_path / "gode.pt"
    fitted.save(path)
    payload = torch.load(path, weights_only=True)
    assert payload["kind"] == "lc_gode" and payload["config"]["use_graph"] is True
    loaded = load_predictor(path)
    assert isinstance(loaded, LCGODEPredictor)
    curves = [c.observed(0.2) for c in nb201_like(4, seed=2)]
    a, b = fitted.predict(curves), loaded.predict(curves)
    np.testing.assert_allclose(a.means, b.means, rtol=1e-6)
    np.testing.assert_allclose(a.stds, b.stds, rtol=1e-6)
    with pytest.raises(CheckpointError, match="not a 'lc_gode_nograph'"):
        LCGODENoGraphPredictor.load(path)


def test_ablation_differs_only_by_the_graph(fitted):
    ablation = LCGODENoGraphPredictor(**TINY)
    assert ablation.use_graph is False and ablation.name == "lc_gode_nograph"
    params = {k: v for k, v in ablation.get_params().items() if k != "use_graph"}
    assert params == {k: v for k, v in fitted.get_params().items() if k != "use_graph"}
    ablation.fit(nb201_like())
    assert set(ablation.model_.state_dict()) == set(fitted.model_.state_dict())
    # With the graph off, changing the architecture changes nothing.
    c = nb201_like(1, seed=3)[0].observed(0.3)
    other = c.replace(arch=from_nb201("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"))
    np.testing.assert_array_equal(ablation.predict([c]).means, ablation.predict([other]).means)
    assert not np.array_equal(fitted.predict([c]).means, fitted.predict([other]).means)


def test_a_curve_without_arch_is_still_forecast_and_warned_once(fitted):
    c = nb201_like(1, seed=4)[0].observed(0.3)
    bare = c.replace(arch=None)
    fitted._warned = False
    with pytest.warns(UserWarning, match="graph embedding zeroed"):
        f = fitted.predict([bare, c])
    assert f.is_finite.all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted.predict([bare])  # once only
    # An accuracy in [0, 1] and a loss are read too.
    frac = Curve(steps=[1, 2, 3], values=[0.2, 0.3, 0.35], mode="max", max_step=30)
    loss = Curve(steps=[1, 2, 3], values=[2.3, 1.9, 1.7], mode="min", max_step=30)
    f = fitted.predict([frac, loss])
    assert f.is_finite.all()


def test_registry_names(fitted, tmp_path):
    assert {"lc_gode", "lc_gode_nograph"} <= set(available_predictors())
    p = make_predictor("lc_gode", max_steps=5)
    assert isinstance(p, LCGODEPredictor) and not p.is_fitted and p.use_graph
    q = make_predictor("lc_gode_nograph", max_steps=5)
    assert isinstance(q, LCGODENoGraphPredictor) and not q.use_graph
    shipped = make_predictor("lc_gode")  # the shipped checkpoint, when there is one
    assert isinstance(shipped, LCGODEPredictor)
    path = tmp_path / "m.pt"
    fitted.save(path)
    assert isinstance(make_predictor(str(path)), LCGODEPredictor)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="graph_layer"):
        LCGODEPredictor(graph_layer="sage")
    with pytest.raises(ValueError, match="graph_dropout"):
        LCGODEPredictor(graph_dropout=1.0)
    with pytest.raises(ValueError, match="at least 4 complete curves"):
        LCGODEPredictor(**TINY).fit(nb201_like(2))


def test_bench_predict_scores_unseen_architectures_of_a_trained_task():
    from lc_hpo.bench.predict import run_predict_bench

    curves = nb201_like(20, seed=5)
    train, test = curves[:14], curves[14:]
    r = run_predict_bench(test, [LCGODEPredictor(**TINY)], cutoffs=[0.2], train=train,
                          progress=False)
    assert "held-out configurations" in r["notes"][0]
    res = r["predictors"]["lc_gode"]["0.2"]
    assert res["n_curves"] == 6 and math.isfinite(res["final"]["mape"])
    with pytest.raises(ValueError, match="shares 1 configuration"):
        run_predict_bench(test, [LCGODEPredictor(**TINY)], cutoffs=[0.2], train=train + test[:1],
                          progress=False)
