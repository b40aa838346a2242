"""The LR-range-test baseline: one-cycle over 16 epochs with its peak rate from Smith's range test.

Chosen over schedule-free SGD because it needs nothing outside torch and costs a fraction of an epoch
here (100 mini-batches, ~3.6 epochs' worth of batches at 3,500 images / batch 128 on the MNIST sets;
that cost is added to the epochs column).  Same data, model and seeds as ``lrpo_single.py``.

    python benchmarks/lrpo_rangetest.py [--data mnist5k mnist1d] [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import lrpo_common as common
import numpy as np
import torch
from tqdm import tqdm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=["mnist5k", "mnist1d"])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = {}
    print("| data | rates found (5 seeds) | epochs (incl. range test) | test acc. (mean ± std) | "
          "val. acc. | wall time (s) |")
    print("|---|---|---:|---:|---:|---:|")
    for name in args.data:
        data = common.load(name)
        rows = []
        for seed in tqdm(range(args.seeds), desc=name):
            start = time.perf_counter()
            rate = common.lr_range_test(data, seed)
            test_epochs = 100 * 128 / len(data.y_train)
            r = common.run_schedule("onecycle", data, seed, lr=rate)
            rows.append({"rate": rate, "val": r["val"], "test": r["test"],
                         "epochs": 16 + test_epochs, "seconds": time.perf_counter() - start})
        out[name] = rows
        t = np.array([r["test"] for r in rows])
        rates = ", ".join(f"{r['rate']:.3f}" for r in rows)
        print(f"| {name} | {rates} | "
              f"{rows[0]['epochs']:.1f} | {100 * t.mean():.2f} ± {100 * t.std(ddof=1):.2f} | "
              f"{100 * np.mean([r['val'] for r in rows]):.2f} | "
              f"{np.mean([r['seconds'] for r in rows]):.1f} |", flush=True)
    with open(os.path.join(args.out, "lrpo_rangetest.json"), "w") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
