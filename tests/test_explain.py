"""Why a trial stopped: flat Optuna attributes, the per-step history, and ``lc-hpo explain``."""

import math

import optuna
import pytest

from lc_hpo import LCPruner
from lc_hpo.cli import main
from lc_hpo.decision import Decision
from lc_hpo.explain import FLAT_KEYS, HISTORY_ATTR, MAX_HISTORY, append_history, round4
from lc_hpo.integrations.optuna import FORECAST_ATTR

from .optuna_objectives import accuracy_objective

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def study_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("explain") / "study.db"
    storage = f"sqlite:///{path}"
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize",
                                pruner=LCPruner(),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(accuracy_objective, n_trials=10)
    return storage, study


def _sig_digits_at_most_4(x):
    return x == float(f"{x:.4g}")


def test_flat_attributes_sit_beside_the_record_and_agree_with_it(study_db):
    _, study = study_db
    recorded = [t for t in study.trials if FORECAST_ATTR in t.user_attrs]
    pruned = [t for t in recorded if t.state == optuna.trial.TrialState.PRUNED]
    assert recorded and pruned
    for t in recorded:
        full, a = t.user_attrs[FORECAST_ATTR], t.user_attrs
        assert set(FLAT_KEYS) <= set(a)
        assert a["lc_stop"] == full["stop"] and a["lc_reason"] == full["reason"]
        for key in ("p_better", "predicted_final", "lower", "upper"):
            if key in full:
                assert math.isclose(a[f"lc_{key}"], full[key], rel_tol=1e-3, abs_tol=1e-12)
                assert _sig_digits_at_most_4(a[f"lc_{key}"])
            else:
                assert a[f"lc_{key}"] is None
    for t in pruned:
        assert t.user_attrs["lc_stop"] is True
        assert t.user_attrs[HISTORY_ATTR][-1]["stop"] is True
    df = study.trials_dataframe()
    assert {f"user_attrs_{k}" for k in FLAT_KEYS} <= set(df.columns)
    assert df["user_attrs_lc_p_better"].dropna().map(lambda v: isinstance(v, float)).all()


def test_the_history_holds_one_entry_per_recorded_step(study_db):
    _, study = study_db
    # every decision is kept, not only the latest (a trial forecast at many steps has many entries)
    assert max(len(t.user_attrs.get(HISTORY_ATTR, [])) for t in study.trials) >= 3
    for t in study.trials:
        history = t.user_attrs.get(HISTORY_ATTR, [])
        steps = [h["step"] for h in history]
        assert steps == sorted(set(steps))  # one per step, in order
        assert all(s in t.intermediate_values for s in steps)
        if history:
            assert history[-1]["reason"] == t.user_attrs[FORECAST_ATTR]["reason"]


def test_explain_prints_the_history_and_why(study_db, capsys):
    storage, study = study_db
    pruned = next(t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED)
    assert main(["explain", "--storage", storage, "--study", "s", "--trial",
                 str(pruned.number)]) == 0
    out = capsys.readouterr().out
    history = pruned.user_attrs[HISTORY_ATTR]
    assert f"trial {pruned.number}: PRUNED" in out
    assert out.count("\n| ") == len(history) + 1  # header, then one row per recorded decision
    assert f"stopped at step {history[-1]['step']}" in out
    assert f"{history[-1]['p_better']:.4g}" in out


def test_explain_says_what_is_wrong(study_db, capsys, tmp_path):
    storage, _ = study_db
    assert main(["explain", "--storage", storage, "--study", "nope", "--trial", "0"]) == 2
    assert "no study 'nope'" in capsys.readouterr().err
    assert main(["explain", "--storage", storage, "--study", "s", "--trial", "99"]) == 2
    assert "has no trial 99" in capsys.readouterr().err
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    assert main(["explain", "--storage", missing, "--study", "s", "--trial", "0"]) == 2
    assert not (tmp_path / "none.db").exists()  # not created by looking


def test_history_is_bounded_and_tolerates_what_it_finds():
    d = Decision(False, "forecast", 3, p_better=0.123456, predicted_final=1 / 3)
    assert append_history("junk", d) == [{"step": 3, "stop": False, "reason": "forecast",
                                          "p_better": 0.1235, "predicted_final": 0.3333}]
    long = [{"step": i} for i in range(MAX_HISTORY)]
    assert len(append_history(long, d)) == MAX_HISTORY
    assert append_history(long, d)[0]["step"] == 1
    assert round4(float("nan")) is None and round4(123456.0) == 123500.0
