"""What the study-trust guard adds to ``should_prune()``: LCPruner() against LCPruner(trust=False).

Both pruners see the same populated study (``lc_hpo.bench.latency``'s synthetic curves) and the same
running trials, interleaved call by call so that both see the same machine load; the added latency
is the difference of the medians.  Run: ``python benchmarks/trust_latency.py [N_FINISHED ...]
[--trust SPEC]`` (``SPEC``: a :meth:`~lc_hpo.trust.StudyTrust.from_spec` spec for the guarded
pruner; default: ``LCPruner()``'s own guard).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import optuna
import torch

from lc_hpo.bench.latency import _populate, synthetic_curves
from lc_hpo.integrations.optuna import LCPruner
from lc_hpo.trust import StudyTrust


def main(sizes: list[int], n_running: int = 10, steps: int = 50, spec: str | None = None) -> None:
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    guarded = "LCPruner()" if spec is None else f"LCPruner(trust={spec})"
    print(f"| finished trials | {guarded} p50 ms | LCPruner(trust=False) p50 ms | added p50 ms |")
    print("|---:|---:|---:|---:|")
    for n in sizes:
        finished = synthetic_curves(n, steps, 0)
        running = synthetic_curves(n_running, steps, 1)
        studies = {}
        guard = True if spec is None else StudyTrust.from_spec(spec)
        for name, trust in (("guard", guard), ("alone", False)):
            study = optuna.create_study(direction="maximize", pruner=LCPruner(trust=trust))
            _populate(study, finished)
            studies[name] = study
        times: dict[str, list[float]] = {name: [] for name in studies}
        for curve in running:
            trials = {name: s.ask() for name, s in studies.items()}
            for step, value in enumerate(curve, start=1):
                for name, trial in trials.items():
                    trial.report(float(value), step)
                    start = time.perf_counter()
                    trial.should_prune()
                    times[name].append(time.perf_counter() - start)
            for name, trial in trials.items():
                studies[name].tell(trial, float(curve[-1]))
        g, a = (1e3 * float(np.median(times[k])) for k in ("guard", "alone"))
        print(f"| {n} | {g:.2f} | {a:.2f} | {g - a:.2f} |")


if __name__ == "__main__":
    args = sys.argv[1:]
    spec = None
    if "--trust" in args:
        i = args.index("--trust")
        spec = args[i + 1]
        del args[i:i + 2]
    main([int(a) for a in args] or [100, 1000], spec=spec)
