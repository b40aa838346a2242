"""LRPO controller: phases, both alpha rules, bad input, resuming, and a real (tiny) training run."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from lc_hpo.lrpo import LRPO, LRPOWarning, code_alpha, lrpo_schedule, predictor_alpha


def sgd(lr: float = 0.05, groups: int = 1) -> torch.optim.SGD:
    params = [{"params": [torch.nn.Parameter(torch.zeros(2))]} for _ in range(groups)]
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def decaying(n: int, noise: float = 0.0, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return [float(0.2 + 2.0 / (1 + e) + noise * rng.standard_normal()) for e in range(n)]


def drive(ctl: LRPO, losses: list[float]) -> list[float]:
    """Step the controller through ``losses``; the rate each epoch trained at."""
    used = []
    for loss in losses:
        used.append(ctl.lr)
        ctl.step(loss)
    return used


def test_phases_rates_and_total_epochs_code_mode():
    opt = sgd(0.05)
    ctl = LRPO(opt, mode="code", finetune_lr=1e-3)
    assert ctl.total_epochs == 16 and not ctl.done
    losses = decaying(16)
    used = drive(ctl, losses)
    assert ctl.done
    expected_alpha = code_alpha(losses[:10])
    assert ctl.alpha == pytest.approx(expected_alpha)
    assert used[:10] == [0.05] * 10
    assert used[10] == pytest.approx(0.05 * expected_alpha)
    assert used[11:] == [1e-3] * 5
    assert [h["phase"] for h in ctl.history] == ["warm"] * 10 + ["jump"] + ["finetune"] * 5
    assert [h["lr"] for h in ctl.history] == pytest.approx(used)
    assert [h["loss"] for h in ctl.history] == pytest.approx(losses)
    assert [h["epoch"] for h in ctl.history] == list(range(1, 17))


def test_custom_phase_lengths():
    ctl = LRPO(sgd(), warm_epochs=4, jump_epochs=2, finetune_epochs=3, mode="code")
    assert ctl.total_epochs == 9
    drive(ctl, decaying(9))
    assert [h["phase"] for h in ctl.history] == ["warm"] * 4 + ["jump"] * 2 + ["finetune"] * 3
    assert ctl.history[4]["lr"] == ctl.history[5]["lr"] == pytest.approx(0.05 * ctl.alpha)


@pytest.mark.parametrize("last3, alpha", [
    ([1.0, 0.97, 0.94], 1.2),    # r = 0.02 -> 1 + 10 r
    ([1.0, 0.5, 0.1], 2.0),      # r = 0.3 -> capped at 2
    ([1.0, 1.0, 1.0], 0.8),      # no decrease -> 0.8
    ([1.0, 1.1, 1.2], 0.8),      # rising -> 0.8
])
def test_code_rule_on_known_losses(last3, alpha):
    assert code_alpha([5.0, 3.0] + last3) == pytest.approx(alpha)
    opt = sgd(0.1)
    ctl = LRPO(opt, warm_epochs=3, mode="faithful_code")  # the name for the code mode
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LRPOWarning)
        drive(ctl, last3)
    assert ctl.mode == "code"
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * alpha)


def test_predictor_mode_jumps_on_a_clean_decay_and_not_on_a_flat_curve():
    clean = decaying(10)
    alpha = predictor_alpha(clean)
    assert 1.0 < alpha <= 2.0
    opt = sgd(0.05)
    ctl = LRPO(opt)  # predictor mode is the default
    drive(ctl, clean)
    assert ctl.alpha == pytest.approx(alpha)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05 * alpha)
    flat = [1.0 + 0.05 * v for v in np.random.default_rng(1).standard_normal(10)]
    flat[-1] = min(flat[-1], flat[-3] - 1e-3)  # not "rising": the forecast itself must say no
    assert predictor_alpha(flat) == 1.0
    with pytest.raises(ValueError, match="confidence"):
        predictor_alpha(clean, confidence=1.0)


def test_nonfinite_loss_means_no_jump_and_one_warning():
    opt = sgd(0.05)
    ctl = LRPO(opt, mode="code")
    losses = decaying(16)
    losses[4] = math.nan
    losses[6] = math.inf
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        used = drive(ctl, losses)
    lrpo_warnings = [w for w in caught if issubclass(w.category, LRPOWarning)]
    assert len(lrpo_warnings) == 1 and "non-finite" in str(lrpo_warnings[0].message)
    assert ctl.done and ctl.alpha == 1.0
    assert used[10] == pytest.approx(0.05) and used[11:] == [1e-3] * 5
    assert math.isnan(ctl.history[4]["loss"])


def test_rising_warm_loss_predictor_mode_makes_no_jump():
    losses = decaying(10)
    losses[-1] = losses[-3] + 0.3
    ctl = LRPO(sgd(0.05))
    with pytest.warns(LRPOWarning, match="rose") as caught:
        drive(ctl, losses)
    assert caught[0].filename == __file__  # the warning points at the training loop, not lc_hpo
    assert ctl.alpha == 1.0
    assert ctl.lr == pytest.approx(0.05)


def test_a_failing_predictor_means_no_jump():
    from lc_hpo import Predictor

    class Broken(Predictor):
        name = "broken"

        def _predict(self, batch, targets):
            raise RuntimeError("no forecast today")

    ctl = LRPO(sgd(0.05), predictor=Broken())
    with pytest.warns(LRPOWarning, match="no forecast today"):
        drive(ctl, decaying(16))
    assert ctl.done and ctl.alpha == 1.0 and ctl.history[10]["lr"] == pytest.approx(0.05)


def test_step_after_done_is_ignored_with_one_warning():
    ctl = LRPO(sgd(), warm_epochs=3, jump_epochs=1, finetune_epochs=1, mode="code")
    drive(ctl, decaying(5))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ctl.step(0.1)
        ctl.step(0.1)
    assert len([w for w in caught if issubclass(w.category, LRPOWarning)]) == 1
    assert len(ctl.history) == 5 and ctl.lr == pytest.approx(1e-3)


def test_bad_settings_fail_at_construction():
    with pytest.raises(ValueError, match="parameter groups"):
        LRPO(sgd(groups=2))
    with pytest.raises(ValueError, match="warm_epochs"):
        LRPO(sgd(), warm_epochs=2)
    with pytest.raises(ValueError, match="mode"):
        LRPO(sgd(), mode="paper")
    with pytest.raises(ValueError, match="finetune_lr"):
        LRPO(sgd(), finetune_lr=0.0)
    with pytest.raises(TypeError, match="optimiser"):
        LRPO(object())
    with pytest.raises(TypeError, match="loss"):
        LRPO(sgd()).step("low")


@pytest.mark.parametrize("cut", [5, 10, 12])
def test_resume_from_state_dict_matches_an_uninterrupted_run(cut):
    losses = decaying(16, noise=0.01)
    whole = LRPO(sgd(0.05), mode="code")
    used_whole = drive(whole, losses)
    first = LRPO(sgd(0.05), mode="code")
    drive(first, losses[:cut])
    state = first.state_dict()
    opt = sgd(0.05)  # a fresh optimiser, as after a restart
    resumed = LRPO(opt, mode="code")
    resumed.load_state_dict(state)
    assert opt.param_groups[0]["lr"] == pytest.approx(used_whole[cut])
    drive(resumed, losses[cut:])
    assert resumed.history == whole.history and resumed.alpha == whole.alpha
    with pytest.raises(ValueError, match="same settings"):
        LRPO(sgd(0.05), mode="predictor").load_state_dict(state)
    with pytest.raises(ValueError, match="state dict"):
        LRPO(sgd(0.05)).load_state_dict({"epoch": 3})


def test_real_training_on_digits_through_lrpo_schedule():
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    torch.set_num_threads(1)
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    xt, yt, xv, yv = x[:1400], y[:1400], x[1400:], y[1400:]
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.BatchNorm1d(64),
                                torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)

    def train_epoch() -> float:
        model.train()
        total = 0.0
        for idx in torch.randperm(len(yt)).split(128):
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        return total / len(yt)

    @torch.no_grad()
    def evaluate() -> float:
        model.eval()
        return float((model(xv).argmax(1) == yv).float().mean())

    reported = []
    ctl = lrpo_schedule(opt, train_epoch, evaluate=evaluate,
                        report=reported.append, warm_epochs=5,
                        finetune_epochs=2, mode="code")
    assert ctl.done and ctl.total_epochs == 8 and len(reported) == 8
    assert [e["epoch"] for e in reported] == list(range(1, 9))
    assert [e["phase"] for e in reported] == ["warm"] * 5 + ["jump"] + ["finetune"] * 2
    assert reported[0]["alpha"] is None and reported[5]["alpha"] == ctl.alpha
    assert ctl.history[-1]["metric"] == reported[-1]["metric"] > 0.85
    losses = [h["loss"] for h in ctl.history]
    assert losses[4] < losses[0]
    assert ctl.alpha == pytest.approx(code_alpha(losses[:5]))
    assert ctl.history[5]["lr"] == pytest.approx(0.05 * ctl.alpha)
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-3)


def test_optuna_example_ranks_by_short_runs_and_retrains_the_winner(monkeypatch, capsys):
    import runpy
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "lrpo_optuna.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--trials", "2", "--full-epochs", "3"])
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert "2 trials, LRPO code mode, 16 epochs each" in out
    assert "epochs trained: 35 (short study + one full retrain) instead of 6" in out
