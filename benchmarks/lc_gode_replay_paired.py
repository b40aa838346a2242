"""Per-ordering epochs spent and final regret of one replay method, for paired comparisons.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lc_gode_replay_paired.py METHOD CURVES N OUT.json

The same studies as ``lc_gode_replay.py`` (budget = one full run per curve, orderings 0..N-1 of seed
0), written as ``[[epochs spent, final regret], ...]``; ``bench hpo`` itself keeps only the means.
"""

from __future__ import annotations

import json
import sys
import warnings

import torch

from lc_hpo.bench.protocol import ReplayTask
from lc_hpo.bench.replay_optuna import replay_ordering
from lc_hpo.curveset import read_curves


def main() -> None:
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    method, src, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="optuna")
    curves = list(read_curves(src))
    task = ReplayTask(curves[0].task, curves)
    rows = []
    for o in range(n):
        regret, spent = replay_ordering(task, task.ordering(0, o), method,
                                        task.budget(len(curves)), f"paired-{o}")
        rows.append((int(spent), float(regret[-1])))
    with open(out, "w") as f:
        json.dump(rows, f)


if __name__ == "__main__":
    main()
