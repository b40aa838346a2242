"""Decisions that do not depend on how a study writes its metric or counts its steps.

Property-based (hypothesis), through the public API: real Optuna studies pruned by ``LCPruner`` with
the bundled default, each run twice, once as written and once transformed; every trial must end the
same way (completed, or pruned after the same number of reports).  Few examples, to stay fast.
"""

import math

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna.trial import TrialState

from lc_hpo import LCPruner
from lc_hpo.canonical import canonical_map
from lc_hpo.curve import Curve

optuna.logging.set_verbosity(optuna.logging.WARNING)
STEPS = 12
N_TRIALS = 7
FAST = settings(max_examples=4, deadline=None, derandomize=True)


def study_curves(seed: int, crossing: bool = False) -> np.ndarray:
    """N_TRIALS curves: accuracies in [0, 1] rising to 0.5-0.95, or (``crossing``) losses that
    fall from about 2 to between -1 and -3.5 (negative log-likelihoods), with noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, STEPS + 1)
    rows = []
    for _ in range(N_TRIALS):
        rate = rng.uniform(0.15, 0.5)
        if crossing:
            final = rng.uniform(-3.5, -1.0)
            rows.append(final + (2.0 - final) * np.exp(-rate * t) + rng.normal(0, 0.02, STEPS))
        else:
            final = rng.uniform(0.5, 0.95)
            rows.append(final - (final - 0.1) * np.exp(-rate * t) + rng.normal(0, 0.003, STEPS))
    return np.array(rows)


def outcomes(curves: np.ndarray, direction: str = "maximize", value=lambda v: v,
             step=lambda i: i + 1) -> list[tuple[str, int]]:
    """How each trial ended (state, reports made) in a real study pruned by LCPruner."""
    def objective(trial):
        row = curves[trial.number]
        for i, v in enumerate(row):
            trial.report(float(value(v)), step(i))
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(value(row[-1]))

    study = optuna.create_study(direction=direction, pruner=LCPruner(n_startup_trials=1))
    study.optimize(objective, n_trials=len(curves))
    return [(t.state.name, len(t.intermediate_values)) for t in study.trials]


def test_the_studies_below_do_prune():  # else the properties would hold vacuously
    kept = outcomes(study_curves(3))
    assert any(s == TrialState.PRUNED.name for s, _ in kept), kept
    crossing = outcomes(study_curves(3, crossing=True), direction="minimize")
    assert any(s == TrialState.PRUNED.name for s, _ in crossing), crossing


@FAST
@given(seed=st.integers(0, 10_000), crossing=st.booleans())
def test_a_metric_and_its_negation_with_the_direction_flipped_decide_alike(seed, crossing):
    curves = study_curves(seed, crossing)
    direction, other = ("minimize", "maximize") if crossing else ("maximize", "minimize")
    assert outcomes(curves, direction) == outcomes(curves, other, value=lambda v: -v)


@FAST
@given(seed=st.integers(0, 10_000), log_a=st.floats(-2, 2), where=st.floats(0.05, 0.95))
def test_an_affine_rescaling_of_a_metric_that_crosses_zero_decides_alike(seed, log_a, where):
    # a*y + b with a > 0 and b such that the rescaled metric still crosses 0 (a metric of one sign
    # keeps its values: a bound near them is information; lc_hpo.canonical)
    curves = study_curves(seed, crossing=True)
    a = 10.0 ** log_a
    b = -a * (curves.min() + where * (curves.max() - curves.min()))
    assert outcomes(curves, "minimize") == outcomes(curves, "minimize", value=lambda v: a * v + b)


@FAST
@given(seed=st.integers(0, 10_000), k=st.sampled_from([1, 10, 1000, 1_000_000]),
       zero_based=st.booleans())
def test_the_unit_and_numbering_of_steps_do_not_change_decisions(seed, k, zero_based):
    curves = study_curves(seed)
    first = 0 if zero_based else 1
    assert outcomes(curves) == outcomes(curves, step=lambda i: k * (i + first))


@FAST
@given(seed=st.integers(0, 10_000), copies=st.integers(1, 3), data=st.data())
def test_values_within_a_relative_1e_9_decide_alike_ties_included(seed, copies, data):
    curves = study_curves(seed)
    # a probe identical to the first finished trials: a tie, whether exact or off by 1e-9
    curves[copies] = curves[0]
    curves[copies + 1] = curves[0]
    eps = np.array(data.draw(st.lists(st.floats(-1e-9, 1e-9), min_size=curves.size,
                                      max_size=curves.size))).reshape(curves.shape)
    assert outcomes(curves) == outcomes(curves * (1 + eps))


def test_the_canonical_map_reads_units_and_gives_back_the_study_s_numbers():
    c = Curve(steps=[10, 20, 30], values=[-0.2, -0.5, -0.6], mode="min", max_step=100)
    m = canonical_map([c])
    assert m.flip and m.step_unit == 10
    canon = m.curve(c)
    assert canon.mode == "max" and list(canon.steps) == [1, 2, 3] and canon.max_step == 10
    assert np.allclose(m.values_back(m.values(c.values)), c.values)
    zero = Curve(steps=[1, 6, 11], values=[1.0, 0.5, 0.3], mode="min", max_step=96)  # 0, 5, 10
    mz = canonical_map([zero])
    assert mz.zero_based and mz.step_unit == 5 and list(mz.curve(zero).steps) == [1, 2, 3]
    assert mz.curve(zero).max_step == 20
    plain = Curve(steps=[1, 2, 3], values=[0.2, 0.5, 0.6], mode="max")
    assert canonical_map([plain]).is_identity and canonical_map([plain]).curve(plain) is plain
    crossing = Curve(steps=[1, 2, 3], values=[2.0, -1.0, -3.0], mode="min")
    cm = canonical_map([crossing])
    assert cm.values(-3.0) == pytest.approx(10.0) and cm.values(2.0) == pytest.approx(11.0)
    assert not math.isnan(float(cm.values_back(10.5)))
