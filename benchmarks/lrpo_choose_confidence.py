"""Choose the predictor mode's ``confidence`` on the development set (digits), never on the report sets.

For each candidate, five seeds of the 16-epoch LRPO predictor schedule on digits; prints the alphas it
picked and the mean validation accuracy (the test split is not looked at).

    python benchmarks/lrpo_choose_confidence.py
"""

from __future__ import annotations

import lrpo_common as common
import numpy as np
import torch

CANDIDATES = (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9)


def main() -> None:
    torch.set_num_threads(1)
    data = common.load("digits")
    print("| confidence | alphas (5 seeds) | val. accuracy |")
    print("|---:|---|---:|")
    for conf in CANDIDATES:
        rs = [common.run_schedule("lrpo_predictor", data, seed, confidence=conf)
              for seed in range(100, 105)]
        acc = np.array([r["val"] for r in rs])
        alphas = ", ".join(f"{r['alpha']:.2f}" for r in rs)
        print(f"| {conf} | {alphas} | "
              f"{acc.mean():.4f} ± {acc.std(ddof=1):.4f} |", flush=True)


if __name__ == "__main__":
    main()
