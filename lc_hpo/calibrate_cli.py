"""``lc-hpo calibrate``: fit how a checkpoint's P(better) reads a trial's standing, and store it.

The standing calibration (:mod:`lc_hpo.standing`) is fitted on decision situations drawn, as
``lc-hpo bench decide`` draws them, from curve sets the predictor was trained on: each is a run cut
at a fraction of its budget, the best of a few finished runs of its task as the incumbent, and
whether the run's final value beat it.  Situations where the rule would not forecast (the run
leads, or has too few points) take no part, as they take no part in a decision.  The calibration is
stored in the checkpoint's metadata (``"standing"``), beside the weights it was fitted for, and
handed to the rule by :func:`lc_hpo.defaults.resolve_calibration`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from .bench.decide import draw_situations
from .cli_args import positive_int, positive_limit, read_curve_files
from .curve import Curve
from .decision import StoppingRule
from .learned import load_predictor
from .predictors.base import Predictor
from .standing import StandingCalibration


def fit_standing(predictor: Predictor, curves: Sequence[Curve], situations_per_task: int = 500,
                 seed: int = 1, progress: bool = False, p_only: bool = False,
                 max_finished: int = 10) -> StandingCalibration:
    """A standing calibration of ``predictor``'s P(better), fitted on situations from ``curves``
    (``p_only``: a recalibration of P alone, see :meth:`StandingCalibration.fit`)."""
    groups = draw_situations(curves, situations_per_task, max_finished=max_finished, seed=seed)
    rule = StoppingRule(predictor, threshold=0.5)  # the forecast's own P(better)
    p, partial, finished, won = [], [], [], []
    for group in tqdm(groups, desc="situations", disable=not progress, leave=False):
        decisions = rule.decide_many([s.partial for s in group], group[0].incumbent,
                                     group[0].n_finished)
        for s, d in zip(group, decisions):
            if d.p_better is not None and math.isfinite(d.p_better):
                p.append(d.p_better)
                partial.append(s.partial)
                finished.append(s.finished)
                won.append(s.winner)
    fitted_on = {"tasks": sorted({g[0].task for g in groups}), "situations": len(p),
                 "winners": int(sum(won)), "situations_per_task": int(situations_per_task),
                 "seed": int(seed), "p_only": bool(p_only), "max_finished": int(max_finished)}
    return StandingCalibration.fit(p, partial, finished, won, fitted_on=fitted_on, p_only=p_only)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="fit how a checkpoint's P(better) reads a trial's "
                       "standing among finished trials, and store it in the checkpoint")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="a checkpoint to calibrate")
    p.add_argument("--curves", nargs="+", required=True, metavar="FILE",
                   help="curve sets the predictor was trained on (never the ones measured on)")
    p.add_argument("--diverged-above", type=positive_limit, metavar="X",
                   help="treat values whose magnitude exceeds X as diverged (null)")
    p.add_argument("--situations", type=positive_int, default=500, help="situations per task (500)")
    p.add_argument("--seed", type=int, default=1, help="seed of the situations drawn")
    p.add_argument("--max-finished", type=positive_int, default=10,
                   help="each situation's study has 1 to this many finished runs (10)")
    p.add_argument("--p-only", action="store_true",
                   help="recalibrate P(better) alone, without the standing (an ablation)")
    p.add_argument("--out", metavar="PATH", help="checkpoint to write (default: --checkpoint)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    model = load_predictor(args.checkpoint)
    curves = read_curve_files(args.curves, args.diverged_above)
    calibration = fit_standing(model, curves, args.situations, args.seed, not args.quiet,
                               args.p_only, args.max_finished)
    info = calibration.fitted_on if calibration.fitted_on is not None else {}
    info["files"] = [Path(f).name for f in args.curves]
    model.metadata_["standing"] = calibration.to_dict()  # read back by defaults.resolve_calibration
    out = args.out or args.checkpoint
    model.save(out)
    coef = ", ".join(f"{c:+.3f}" for c in calibration.coef)
    print(f"standing calibration on {info['situations']} situations ({info['winners']} winners): "
          f"coef [{coef}], intercept {calibration.intercept:+.3f}")
    print(f"wrote {out}")
    return 0
