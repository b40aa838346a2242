"""Per-ordering epochs spent and final regret of one replay method, for paired comparisons.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lc_gode_replay_paired.py METHOD CURVES N OUT.json

(the same studies as ``lc_gode_replay.py``: ``budget`` = one full run per curve, orderings 0..N-1 of
seed 0), written as ``[[epochs spent, final regret], ...]``.
"""
import sys, json, warnings, numpy as np, torch
torch.set_num_threads(1); warnings.filterwarnings("ignore")
from lc_hpo.curveset import read_curves
from lc_hpo.bench.protocol import ReplayTask
from lc_hpo.bench.replay_optuna import replay_ordering
method, src, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
curves = list(read_curves(src)); task = ReplayTask(curves[0].task, curves)
res = []
for o in range(n):
    regret, spent = replay_ordering(task, task.ordering(0, o), method, task.budget(len(curves)), f"p{o}")
    res.append((int(spent), float(regret[-1])))
json.dump(res, open(out, "w"))
