"""``lc-hpo bench hpo`` replays hand each trial its recorded architecture, and take a checkpoint path."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch

from lc_hpo.arch import from_nb201
from lc_hpo.bench.hpo import run_hpo_bench
from lc_hpo.bench.protocol import ReplayTask
from lc_hpo.bench.replay_optuna import replay_ordering
from lc_hpo.curve import Curve
from lc_hpo.learned import LCGODEPredictor

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
TINY = dict(latent=4, hidden=8, samples=4, ode_steps=4, max_steps=12, eval_every=6, batch_size=8,
            patience=3, max_minutes=1.0)


def cells(n: int, steps: int = 12, seed: int = 0) -> list[Curve]:
    """Accuracy curves whose ceiling grows with the number of convolutions of an NB201 cell."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, steps + 1)
    out = []
    for i in range(n):
        ops = rng.choice(OPS, 6)
        cell = "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)
        final = 40 + 8 * cell.count("conv") + rng.normal(0, 1)
        v = final - (final - 15) * np.exp(-t / 3) + rng.normal(0, 0.5, steps)
        out.append(Curve(steps=t, values=v, mode="max", task="cells", config_id=str(i),
                         arch=from_nb201(cell), max_step=steps))
    return out


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("gode") / "gode.pt"
    LCGODEPredictor(**TINY).fit(cells(16, seed=1)).save(path)
    return str(path)


def _missing_arch_warnings(curves: list[Curve], method: str) -> list[str]:
    task = ReplayTask("cells", curves)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        replay_ordering(task, np.arange(len(curves)), method, task.budget(len(curves)), "t")
    return [str(w.message) for w in caught
            if "has no architecture" in str(w.message) or "no readable architecture" in str(w.message)]


def test_replayed_trials_carry_their_recorded_architecture(checkpoint):
    curves = cells(8)
    assert _missing_arch_warnings(curves, f"lc:{checkpoint}") == []
    # the control: the same curves without their graphs are forecast without one, and told so
    bare = [dataclasses.replace(c, arch=None) for c in curves]
    assert _missing_arch_warnings(bare, f"lc:{checkpoint}")


def test_bench_hpo_replays_a_checkpoint_path_beside_the_builtins(checkpoint):
    method = f"lc:{checkpoint}@0.1"
    res = run_hpo_bench(cells(8), methods=["none", "oracle", "median", method], orderings=1,
                        budget_factor=8, workers=1, progress=False)
    per = res["tasks"]["cells"]
    assert set(per) == {"none", "oracle", "median", method}
    assert per[method]["steps"] <= per["none"]["steps"]
