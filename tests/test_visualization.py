"""plot_forecast: one trial's forecast fan, from a curve or an Optuna study, on the caller's Axes."""

import subprocess
import sys

import numpy as np
import optuna
import pytest
from matplotlib.figure import Figure

from lc_hpo.curve import Curve
from lc_hpo.visualization import plot_forecast

from .optuna_objectives import accuracy_objective

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _partial() -> Curve:
    t = np.arange(1, 11)
    return Curve(steps=t, values=0.8 - 0.6 * np.exp(-0.2 * t), mode="max", max_step=40)


def test_draws_the_fan_on_the_given_axes():
    ax = Figure().subplots()
    out = plot_forecast(_partial(), predictor="parametric", incumbent=0.85, ax=ax)
    assert out is ax
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["90 % interval", "50 % interval", "forecast median", "observed", "incumbent"]
    observed = next(line for line in ax.lines if line.get_label() == "observed")
    assert np.array_equal(observed.get_xdata(), np.arange(1, 11))
    median = next(line for line in ax.lines if line.get_label() == "forecast median")
    assert median.get_xdata()[0] == 10 and median.get_xdata()[-1] == 40
    bands = [c.get_paths()[0].vertices[:, 1] for c in ax.collections]
    assert np.ptp(bands[0]) >= np.ptp(bands[1]) > 0  # the 90 % band is the wider one


def test_from_a_study_reads_the_trial_and_the_incumbent():
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(accuracy_objective, n_trials=3)
    running = study.ask()  # a trial in progress, ten values reported
    for step, value in enumerate(0.8 - 0.6 * np.exp(-0.2 * np.arange(1, 11)), start=1):
        running.report(float(value), step)
    ax = plot_forecast(study, 3, predictor="parametric", ax=Figure().subplots())
    observed = next(line for line in ax.lines if line.get_label() == "observed")
    assert list(observed.get_ydata()) == list(study.trials[3].intermediate_values.values())
    median = next(line for line in ax.lines if line.get_label() == "forecast median")
    assert median.get_xdata()[-1] == 30  # the budget completed trials reported
    incumbent = next(line for line in ax.lines if line.get_label() == "incumbent")
    best = max(t.intermediate_values[max(t.intermediate_values)] for t in study.trials[:3])
    assert incumbent.get_ydata()[0] == best
    with pytest.raises(ValueError, match="no trial 7"):
        plot_forecast(study, 7, ax=Figure().subplots())
    with pytest.raises(TypeError, match="a Curve, or an Optuna study"):
        plot_forecast(study)


def test_a_curve_at_its_budget_is_refused():
    with pytest.raises(ValueError, match="nothing to forecast"):
        plot_forecast(Curve(steps=np.arange(1, 4), values=np.ones(3), mode="max"),
                      ax=Figure().subplots())


def test_never_switches_the_backend_nor_imports_pyplot_when_given_axes():
    code = (
        "import matplotlib; matplotlib.use('svg'); import sys, numpy as np\n"
        "from matplotlib.figure import Figure\n"
        "from lc_hpo.curve import Curve\n"
        "from lc_hpo.visualization import plot_forecast\n"
        "t = np.arange(1, 6)\n"
        "plot_forecast(Curve(steps=t, values=1 - 1 / t, mode='max', max_step=20),\n"
        "              predictor='last_value', ax=Figure().subplots())\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["svg", "False"]
