"""Does anything beside the forecast's P(better) tell winners from losers?  A check for `bench decide`.

`lc-hpo bench decide` scores how well a predictor's P(final beats the incumbent) ranks runs (AUC).
This asks whether two other things a pruner could read would rank them better still:

* **standing**: where the run stands among the study's finished runs *at its current step* (the share
  of them that were better there, and its gap to the incumbent run's value there, in units of that
  run's range) -- what rank-based rules such as successive halving go by;
* **a second forecaster**: the parametric ensemble's P(better), beside the learned default's.

On the situations of `bench decide` (same drawing; the finished runs are the ones the incumbent was
drawn from), a logistic regression is fitted on the logit of P(better) plus each group of features
(and their products with the cut fraction) over one seeded set of situations, and scored by AUC on
another (`bench decide`'s, seed 0).  Both sets come from the same curves, so this is an optimistic,
in-set reference: a feature group that adds little here adds less in a study.

    python benchmarks/decision_features.py --curves ../shared/data/taskset/patch32_GRU64_avg_bs128.jsonl \\
        ../shared/data/taskset/patch32_IRNN64_relu_last_bs128.jsonl \\
        ../shared/data/taskset/patch128_LSTM128_avg_bs64.jsonl --diverged-above 10

Prints one markdown row per feature set: AUC over all situations and per cut fraction.
"""

from __future__ import annotations

import argparse
import math
from typing import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from lc_hpo import read_curves
from lc_hpo.bench.decide import DEFAULT_CUTOFFS, Situation, auc, draw_situations
from lc_hpo.curveset import mark_diverged
from lc_hpo.decision import StoppingRule
from lc_hpo.predictors import make_predictor
from lc_hpo.standing import P_CLIP
from lc_hpo.standing import standing as run_standing


def _logit_p_better(predictor: str, groups: Sequence[Sequence[Situation]]) -> np.ndarray:
    """logit P(better) per situation through the library's rule; NaN where it does not forecast."""
    rule = StoppingRule(make_predictor(predictor), threshold=0.5)
    out = []
    for group in groups:
        decisions = rule.decide_many([s.partial for s in group], group[0].incumbent,
                                     group[0].n_finished)
        for d in decisions:
            p = math.nan if d.p_better is None else min(max(d.p_better, P_CLIP), 1 - P_CLIP)
            out.append(math.log(p / (1 - p)))
    return np.array(out)


def _table(groups: Sequence[Sequence[Situation]], predictor: str, reference: str) -> dict:
    flat = [s for g in groups for s in g]
    z = _logit_p_better(predictor, groups)
    zr = _logit_p_better(reference, groups)
    standing = np.array([run_standing(s.partial, s.finished) for s in flat])
    cut = np.array([s.cutoff for s in flat])
    won = np.array([s.winner for s in flat])
    made = np.isfinite(z) & np.isfinite(zr)
    share, gap = standing[:, 0], standing[:, 1]
    columns = {
        "standing alone": [share, share * cut, gap, gap * cut],
        f"{predictor}": [z],
        f"{predictor} + standing": [z, share, share * cut, gap, gap * cut],
        f"{predictor} + {reference}": [z, zr, zr * cut],
        f"{predictor} + both": [z, share, share * cut, gap, gap * cut, zr, zr * cut],
    }
    return {"X": {k: np.column_stack(v)[made] for k, v in columns.items()},
            "y": won[made], "cut": cut[made]}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--curves", nargs="+", required=True)
    ap.add_argument("--diverged-above", type=float, default=None)
    ap.add_argument("--predictor", default="default")
    ap.add_argument("--reference", default="parametric")
    ap.add_argument("--per-task", type=int, default=1000, help="situations per task (as bench decide)")
    args = ap.parse_args(argv)
    curves = mark_diverged(read_curves(args.curves), args.diverged_above)
    fit = _table(draw_situations(curves, args.per_task, seed=1), args.predictor, args.reference)
    test = _table(draw_situations(curves, args.per_task, seed=0), args.predictor, args.reference)
    cuts = sorted(set(DEFAULT_CUTOFFS))
    print("| features | AUC | " + " | ".join(f"AUC@{c:.0%}" for c in cuts) + " |")
    print("|---|---:|" + "---:|" * len(cuts))
    for name in fit["X"]:
        model = LogisticRegression(C=10.0, max_iter=5000).fit(fit["X"][name], fit["y"])
        score = model.decision_function(test["X"][name])
        by_cut = [auc(score[test["cut"] == c], test["y"][test["cut"] == c]) for c in cuts]
        print(f"| {name} | {auc(score, test['y']):.3f} | "
              + " | ".join(f"{a:.3f}" for a in by_cut) + " |")
    print(f"\n{int(test['y'].size)} scored situations, {int(test['y'].sum())} winners")


if __name__ == "__main__":
    main()
