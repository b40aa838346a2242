"""The training-time estimator against real gradient descent on small real models, and its budget
hooks in a real Optuna study."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import warnings

import numpy as np
import optuna
import pytest
import torch
import torch.nn.functional as F

from lc_hpo.budget_prior import ESTIMATE_KEY, prior_decision, soonest_first, step_budget
from lc_hpo.estimate import (EstimateWarning, NotFittedError, TrainingTimeEstimator,
                             estimate_training_time)

torch.set_num_threads(1)


def regression(n: int = 48, d: int = 5, c: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    y = X @ torch.randn(d, c, generator=g) + 0.3 * torch.randn(n, c, generator=g)
    torch.manual_seed(seed)
    return torch.nn.Linear(d, c), X, y


def classification(n: int = 48, d: int = 5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()
    return X, y


def gd_losses(model, X, y, loss_fn, *, lr, steps, wd=0.0, momentum=0.0, batch=None, seed=0):
    """Real (S)GD with torch.optim.SGD on a copy; the whole-set loss after each step."""
    m = copy.deepcopy(model)
    opt = torch.optim.SGD(m.parameters(), lr=lr, weight_decay=wd, momentum=momentum)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(steps + 1):
        with torch.no_grad():
            out.append(float(loss_fn(m(X), y)))
        idx = torch.randperm(len(X), generator=gen)[:batch] if batch else slice(None)
        opt.zero_grad()
        loss_fn(m(X[idx]), y[idx]).backward()
        opt.step()
    return np.array(out)


def first_at_or_below(losses, target):
    hit = np.flatnonzero(losses <= target)
    return int(hit[0]) if hit.size else math.inf


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_mse_closed_form_is_exact_on_a_linear_model(wd):
    model, X, y = regression()
    real = gd_losses(model, X, y, F.mse_loss, lr=0.05, steps=80, wd=wd)
    target = 0.5 * (real[29] + real[30])  # between two steps: no float32 tie
    e = estimate_training_time(model, X, y, loss="mse", lr=0.05, batch_size=len(X),
                               weight_decay=wd, target_loss=target, max_steps=80)
    np.testing.assert_allclose(e.loss_curve(np.arange(81)), real, rtol=1e-5)
    assert e.steps == first_at_or_below(real, target)
    assert e.steps_interval == (e.steps, e.steps)  # full batch: no SGD noise
    assert e.seconds > 0 and not e.diverges


def test_cross_entropy_is_exact_on_a_linear_model_and_close_on_a_small_net():
    X, y = classification()
    torch.manual_seed(1)
    linear = torch.nn.Linear(5, 3)
    real = gd_losses(linear, X, y, F.cross_entropy, lr=0.1, steps=200)
    target = 0.6 * real[0]
    e = estimate_training_time(linear, X, y, lr=0.1, batch_size=len(X), target_loss=target,
                               max_steps=200)
    assert abs(e.steps - first_at_or_below(real, target)) <= 1
    # a wide tanh net at a small rate stays near its linearisation
    torch.manual_seed(2)
    net = torch.nn.Sequential(torch.nn.Linear(5, 256), torch.nn.Tanh(), torch.nn.Linear(256, 3))
    real = gd_losses(net, X, y, F.cross_entropy, lr=0.02, steps=150)
    target = 0.8 * real[0]
    e = estimate_training_time(net, X, y, lr=0.02, batch_size=len(X), target_loss=target,
                               max_steps=150)
    hit = first_at_or_below(real, target)
    assert abs(e.steps - hit) <= 0.15 * hit


def test_sgd_noise_gives_an_interval_that_covers_real_sgd():
    X, y = classification(n=64)
    torch.manual_seed(1)
    linear = torch.nn.Linear(5, 3)
    with torch.no_grad():
        target = 0.6 * float(F.cross_entropy(linear(X), y))
    e = estimate_training_time(linear, X, y, lr=0.1, batch_size=4, target_loss=target,
                               max_steps=300, seed=0)
    hits = [first_at_or_below(gd_losses(linear, X, y, F.cross_entropy, lr=0.1, steps=120,
                                         batch=4, seed=s), target) for s in range(4)]
    lo, hi = e.steps_interval
    assert lo <= e.steps <= hi and hi > lo
    assert abs(np.median(hits) - e.steps) <= 0.25 * np.median(hits)
    band_lo, band_hi = e.loss_interval([0, 20, 60])
    assert (band_lo <= band_hi).all() and band_hi[1] > band_lo[1]


def test_steps_fall_as_the_learning_rate_rises_and_momentum_speeds_up():
    model, X, y = regression()
    target = 0.5 * float(F.mse_loss(model(X), y))
    steps = [estimate_training_time(model, X, y, loss="mse", lr=lr, batch_size=len(X),
                                    target_loss=target, max_steps=2000).steps
             for lr in (0.01, 0.02, 0.05, 0.1)]
    assert steps == sorted(steps, reverse=True) and steps[0] > steps[-1]
    with_m = estimate_training_time(model, X, y, loss="mse", lr=0.01, momentum=0.9,
                                    batch_size=len(X), target_loss=target, max_steps=2000)
    real = gd_losses(model, X, y, F.mse_loss, lr=0.01, momentum=0.9, steps=200)
    assert with_m.steps < steps[0]
    assert abs(with_m.steps - first_at_or_below(real, target)) <= 3


def test_divergence_is_detected_where_real_gd_diverges():
    model, X, y = regression()
    with pytest.warns(EstimateWarning, match="diverge"):
        e = estimate_training_time(model, X, y, loss="mse", lr=3.0, batch_size=len(X),
                                   target_loss=0.01, max_steps=100)
    assert e.diverges and e.steps == math.inf and e.steps_interval == (math.inf, math.inf)
    assert "lower lr" in e.note
    real = gd_losses(model, X, y, F.mse_loss, lr=3.0, steps=30)
    assert not np.isfinite(real[-1]) or real[-1] > 1e3 * real[0]
    assert json.loads(json.dumps(e.to_dict()))["diverges"] is True


def test_bad_inputs_say_what_is_wrong():
    model, X, y = regression()
    kw = dict(loss="mse", lr=0.05, batch_size=8, max_steps=10)
    frozen = copy.deepcopy(model).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        estimate_training_time(frozen, X, y, target_loss=0.1, **kw)
    with pytest.raises(ValueError, match="already reached at step 0"):
        estimate_training_time(model, X, y, target_loss=1e6, **kw)
    with pytest.raises(ValueError, match="X has 48 samples but y has 47"):
        estimate_training_time(model, X, y[:-1], target_loss=0.1, **kw)
    with pytest.raises(ValueError, match="must match the model's outputs"):
        estimate_training_time(model, X, y[:, :1], target_loss=0.1, **kw)
    with pytest.raises(ValueError, match="could not be applied"):
        estimate_training_time(model, X[:, :3], y, target_loss=0.1, **kw)
    with pytest.raises(ValueError, match="class indices"):
        estimate_training_time(torch.nn.Linear(5, 3), X, torch.full((48,), 7), lr=0.1,
                               batch_size=8, target_loss=0.1, max_steps=10)
    with pytest.raises(ValueError, match="lr must be"):
        estimate_training_time(model, X, y, loss="mse", lr=-1.0, batch_size=8, target_loss=0.1,
                               max_steps=10)
    with pytest.raises(ValueError, match="momentum"):
        estimate_training_time(model, X, y, target_loss=0.1, momentum=1.0, **kw)
    with pytest.raises(ValueError, match="loss must be"):
        estimate_training_time(model, X, y, loss="hinge", lr=0.1, batch_size=8, target_loss=0.1,
                               max_steps=10)


def test_model_is_never_modified_and_a_dataloader_works_like_tensors():
    X, y = classification()
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Dropout(0.1), torch.nn.Tanh(),
                              torch.nn.Linear(16, 3)).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    target = 0.7 * float(F.cross_entropy(net.eval()(X), y))
    net.train()
    kw = dict(lr=0.05, batch_size=8, target_loss=target, max_steps=200, seed=1, weight_decay=1e-3)
    a = estimate_training_time(net, X, y, **kw)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=10)
    b = estimate_training_time(net, loader, **kw)
    assert net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())
    assert a.steps == b.steps and math.isfinite(a.steps)


def test_fit_once_predict_many_gives_what_the_one_off_function_gives():
    X, y = classification(n=64)
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(5, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))
    target = 0.7 * float(F.cross_entropy(net(X), y).detach())
    est = TrainingTimeEstimator(n_samples=24, seed=2)
    assert est.fit(net, X, y) is est and est.fit_seconds_ > 0 and est.subset_size_ == 24
    settings = [dict(lr=0.05, batch_size=8, momentum=0.9, weight_decay=1e-3),
                dict(lr=0.2, batch_size=16), dict(lr=0.05, batch_size=64)]
    # in reverse order: each prediction starts its SDE paths from the same state
    fitted = {i: est.predict(target_loss=target, max_steps=150, **settings[i]) for i in (2, 1, 0)}
    for i, kw in enumerate(settings):
        one_off = estimate_training_time(net, X, y, target_loss=target, max_steps=150,
                                         n_samples=24, seed=2, **kw)
        e = fitted[i]
        assert (e.steps, e.steps_interval) == (one_off.steps, one_off.steps_interval)
        np.testing.assert_array_equal(e.paths, one_off.paths)
        np.testing.assert_array_equal(e.ode, one_off.ode)
        assert 0 < e.seconds < one_off.seconds  # predict's own time; the function's includes fit
    assert fitted[1].steps < fitted[2].steps  # a larger rate, fewer steps


def test_the_steps_interval_carries_the_subsets_own_uncertainty():
    X, y = classification(n=96)
    torch.manual_seed(4)
    net = torch.nn.Sequential(torch.nn.Linear(5, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))
    target = 0.7 * float(F.cross_entropy(net(X), y).detach())
    e = TrainingTimeEstimator(n_samples=24).fit(net, X, y).predict(
        lr=0.1, batch_size=8, target_loss=target, max_steps=200)
    assert e.subsets.shape == (4, e.times.size)  # two random half-splits of the 24 samples
    sgd_only = dataclasses.replace(e, subsets=np.zeros((0, 0))).steps_to(target)
    lo, hi = e.steps_interval
    assert sgd_only[0] == e.steps and lo <= sgd_only[1][0] <= e.steps <= sgd_only[1][1] <= hi
    assert (lo, hi) != sgd_only[1]  # the halves disagree, so the interval is wider
    # a kernel on every sample has no subset to be uncertain about
    full = TrainingTimeEstimator(n_samples=96).fit(net, X, y).predict(
        lr=0.1, batch_size=8, target_loss=target, max_steps=200)
    assert full.subsets.size == 0


def test_rescalings_of_the_subset_kernel_keep_what_they_promise():
    from lc_hpo.estimate import dynamics as dyn

    rng = np.random.default_rng(0)
    M, C, N = 12, 2, 200
    J = rng.normal(size=(M * C, 40)) + 2.0 * rng.normal(size=(1, 40))  # a shared direction
    theta = J @ J.T
    g0 = rng.normal(size=(M, C))
    s = (N - 1) / (M - 1)
    linear = dyn.rescale_to_full(theta, C, N, "linear")
    for i in range(M):  # each sample's own block stays, the rest is scaled by s
        block = slice(i * C, (i + 1) * C)
        np.testing.assert_allclose(linear.theta[block, block], theta[block, block])
    np.testing.assert_allclose(linear.theta[:C, C:], s * theta[:C, C:])
    signal = dyn.rescale_to_full(theta, C, N, "signal")
    assert np.linalg.eigvalsh(signal.theta).min() > -1e-8 * signal.theta.max()  # PSD
    # calibrated: the initial rate g'Θ̃g hits the requested value when it lies within [1, s]
    base = float(g0.reshape(-1) @ theta @ g0.reshape(-1))
    want = base + 0.5 * (float(g0.reshape(-1) @ signal.theta @ g0.reshape(-1)) - base)
    cal = dyn.rescale_to_full(theta, C, N, "calibrated", g0=g0, slope=want)
    assert 1.0 < cal.gain < s
    assert abs(float(g0.reshape(-1) @ cal.theta @ g0.reshape(-1)) - want) < 1e-6 * want
    with pytest.raises(ValueError, match="mode must be one of"):
        dyn.rescale_to_full(theta, C, N, "cubic")


def test_predict_before_fit_and_bad_parameters_say_what_to_do():
    model, X, y = regression()
    with pytest.raises(NotFittedError, match="not fitted yet. Call 'fit'"):
        TrainingTimeEstimator(loss="mse").predict(lr=0.1, batch_size=8, target_loss=0.1,
                                                  max_steps=10)
    assert issubclass(NotFittedError, ValueError)
    with pytest.raises(ValueError, match="loss must be one of"):
        TrainingTimeEstimator(loss="hinge").fit(model, X, y)
    with pytest.raises(ValueError, match="n_samples must be an integer of at least 2"):
        TrainingTimeEstimator(loss="mse", n_samples=1).fit(model, X, y)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        TrainingTimeEstimator(loss="mse", seed=-1).fit(model, X, y)
    est = TrainingTimeEstimator(loss="mse").fit(model, X, y)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 2.0"):
        est.predict(lr=0.1, batch_size=2.0, target_loss=0.1, max_steps=10)
    with pytest.raises(ValueError, match="already reached at step 0"):
        est.predict(lr=0.1, batch_size=8, target_loss=1e6, max_steps=10)


def test_budget_policy_reads_plain_estimates():
    X, y = classification()
    torch.manual_seed(1)
    linear = torch.nn.Linear(5, 3)
    e = estimate_training_time(linear, X, y, lr=0.1, batch_size=len(X),
                               target_loss=0.6 * float(F.cross_entropy(linear(X), y)),
                               max_steps=200).to_dict()
    assert step_budget(e) == e["steps_interval"][1] and step_budget(e, 10) == math.ceil(
        e["steps"] / 10)
    assert step_budget(e, cap=5) == 5
    assert not prior_decision(e, incumbent=None, threshold=0.05).stop
    assert prior_decision(e, incumbent=0.5 * e["curve_loss"][-1], threshold=0.05).stop
    assert not prior_decision(e, incumbent=2 * e["curve_loss"][-1], threshold=0.05).stop
    # a predicted divergence alone never stops a trial, however good the incumbent
    assert not prior_decision(dict(e, diverges=True), incumbent=1e-9, threshold=0.05).stop
    slow = dict(e, steps=e["steps"] * 3)
    never = dict(e, steps=None)
    assert soonest_first([slow, None, never, e, {"bad": 1}]) == [3, 0, 1, 4, 2]


def test_optuna_prunes_at_step_zero_from_the_estimate_and_budgets_steps():
    from lc_hpo.integrations.optuna import LCPruner, estimated_budget, set_estimate

    model, X, y = regression()
    start = float(F.mse_loss(model(X), y))
    pruned_at_zero, budgets = [], []

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_categorical("lr", [0.05, 3.0, 0.02, "bad"])
        if lr == "bad":
            with pytest.warns(Warning, match="cannot be stored"):
                assert not set_estimate(trial, {"steps": 1})
            lr = 0.05
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", EstimateWarning)
                est = estimate_training_time(model, X, y, loss="mse", lr=lr, batch_size=len(X),
                                             target_loss=0.5 * start, max_steps=100)
            assert set_estimate(trial, est)
        if trial.should_prune():
            pruned_at_zero.append(trial.params["lr"])
            raise optuna.TrialPruned()
        budget = estimated_budget(trial, default=100)
        budgets.append((trial.params["lr"], budget))
        losses = gd_losses(model, X, y, F.mse_loss, lr=lr, steps=budget)
        for step, v in enumerate(losses[1:], 1):
            trial.report(float(v), step)
        return float(losses[-1])

    study = optuna.create_study(pruner=LCPruner(n_startup_trials=1))
    for lr in (0.02, 3.0, "bad", 0.05):
        study.enqueue_trial({"lr": lr})
    study.optimize(objective, n_trials=4)
    # 3.0 is predicted to diverge but is not stopped for it: its own reports decide (it trains to
    # the default budget, having no finite steps-to-target); 0.05, once the estimate-free trial has
    # trained all 100 steps to a lower loss, is predicted never to beat it and trains no step
    assert pruned_at_zero == [0.05]
    reasons = [t.user_attrs["lc_forecast"] for t in study.trials
               if t.state == optuna.trial.TrialState.PRUNED and not t.intermediate_values]
    assert [r["reason"] for r in reasons] == ["prior"]
    assert reasons[0]["p_better"] < 0.05
    diverging = [t for t in study.trials if t.params["lr"] == 3.0][0]
    assert diverging.intermediate_values  # it trained
    assert ESTIMATE_KEY not in [t for t in study.trials if t.params["lr"] == "bad"][0].user_attrs
    by_lr = dict(budgets)
    assert by_lr["bad"] == 100  # no estimate: the usual budget
    assert by_lr[0.02] < 100  # trained to its predicted steps-to-target, not the maximum
    first = study.trials[0]
    assert first.value <= 0.5 * start * 1.01 and len(first.intermediate_values) == by_lr[0.02]
