"""``lc-hpo bench hpo`` replays with ``LCPruner(lc_gode)`` on architectures its model never saw.

The shipped ``lc_gode`` checkpoint was trained on all 140 NAS-Bench-201 cells, so replaying it on NB201
would score it on its own training curves.  This script therefore:

1. splits NB201 by architecture (``lc_gode_splits.split_by_arch``, 30 % held out, split seed 0) and the
   recorded digits NAS sweep in halves the same way, writing the four curve files to ``--work``;
2. trains a fresh ``lc_gode`` on each training part with ``lc-hpo train --model lc_gode`` (a short
   step limit; skipped if the checkpoint exists);
3. replays the held-out part with ``lc-hpo bench hpo`` (``run_hpo_bench``, the code behind the
   command), giving the held-out-trained checkpoint as ``lc:PATH``.  On the sweep the shipped
   NB201 checkpoint (``lc:lc_gode``) is replayed too: a transfer to another family of networks and
   another dataset.

The budget is one full run per held-out configuration, so the unpruned study (``none``) trains every
configuration once; a pruner's compute saved is then 1 − its steps ÷ that budget, and its regret at
the end says whether it lost the best configuration.  Every replayed trial carries its recorded
architecture (``set_architecture``), as a live NAS sweep would.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lc_gode_replay.py \\
        --nb201 ../shared/data/nb201/nb201_cifar10_140.jsonl --sweep /work/nas_sweep.jsonl \\
        --work /tmp/gode_replay --out docs/lc_gode/replay

(``--from-json`` rebuilds the tables and ``sweep.png`` / ``nb201.png`` from the JSON files in ``--out``.)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

from lc_hpo.bench.hpo import run_hpo_bench
from lc_hpo.curveset import read_curves, write_curves

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lc_gode_splits import split_by_arch  # noqa: E402

BUILTINS = ["none", "oracle", "median", "sha", "hyperband"]


def split(curves_file: str, test_fraction: float, work: Path, name: str) -> tuple[Path, Path]:
    curves = list(read_curves(curves_file))
    train, test = split_by_arch(curves, test_fraction, 0)
    paths = work / f"{name}_train.jsonl", work / f"{name}_test.jsonl"
    write_curves(train, paths[0])
    write_curves(test, paths[1])
    print(f"{name}: {len(train)} training and {len(test)} held-out architectures")
    return paths


def train(curves: Path, out: Path, steps: int, minutes: float) -> Path:
    if not out.exists():
        cmd = [str(Path(sys.executable).parent / "lc-hpo"), "train", "--model", "lc_gode",
               "--curves", str(curves), "--max-steps", str(steps), "--minutes", str(minutes),
               "--seed", "0", "--out", str(out), "--quiet"]
        print(" ".join(cmd))
        subprocess.run(cmd, check=True)
    return out


def replay(test: Path, methods: list[str], orderings: int, workers: int) -> dict:
    curves = list(read_curves(test))
    return run_hpo_bench(curves, methods=methods, orderings=orderings, budget_factor=len(curves),
                         seed=0, workers=workers, progress=True)


def table(results: dict, labels: dict[str, str]) -> str:
    """Per method: steps spent, compute saved against ``none``, final regret, speedup."""
    (task, per), = results["tasks"].items()
    full = per["none"]["steps"]
    lines = ["| method | epochs spent | compute saved | regret at the end | speedup (bench hpo) |",
             "|---|---:|---:|---:|---:|"]
    for m, r in per.items():
        lines.append(f"| {labels.get(m, m)} | {r['steps']:.0f} | {1 - r['steps'] / full:.0%} | "
                     f"{r['regret']:.4g} | {r['speedup']:.2f} |")
    return "\n".join(lines)


def plot(results: dict, labels: dict[str, str], title: str, path: Path) -> None:
    """Mean regret over orderings against epochs spent, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (task, curves), = results["anytime_regret"].items()
    fig, ax = plt.subplots(figsize=(7, 4))
    for m, regret in curves.items():
        ax.plot(range(1, len(regret) + 1), regret, label=labels.get(m, m),
                lw=2.2 if m.startswith("lc:") else 1.2, ls="--" if m in ("none", "oracle") else "-")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("epochs spent (all trials)")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("mean regret (the task's accuracy units)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(out: Path) -> None:
    """Tables and plots from the JSON files already in ``out``."""
    for name, title in (("sweep", "digits NAS sweep: 30 held-out cells"),
                        ("nb201", "NAS-Bench-201: 42 held-out cells")):
        path = out / f"{name}.json"
        if not path.exists():
            continue
        res = json.loads(path.read_text())
        labels = {m: _label(m) for m in res["setup"]["methods"]}
        print(f"\n{title} ({res['setup']['orderings']} orderings)\n")
        print(table(res, labels))
        plot(res, labels, title, out / f"{name}.png")


def _label(method: str) -> str:
    if method.endswith("gode_sweep_half0.pt"):
        return "lc:lc_gode (trained on the other 30 cells)"
    if method.endswith("gode_nb201_split0.pt"):
        return "lc:lc_gode (trained on the 98 other cells)"
    if method == "lc:lc_gode":
        return "lc:lc_gode (shipped, NB201: transfer)"
    return method


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nb201", required=True)
    ap.add_argument("--sweep", required=True)
    ap.add_argument("--work", default="/tmp/gode_replay")
    ap.add_argument("--out", default="docs/lc_gode/replay")
    ap.add_argument("--orderings-nb201", type=int, default=20)
    ap.add_argument("--orderings-sweep", type=int, default=20)
    ap.add_argument("--steps-nb201", type=int, default=1000)
    ap.add_argument("--steps-sweep", type=int, default=600)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", choices=["nb201", "sweep"], default=None)
    ap.add_argument("--from-json", action="store_true",
                    help="only rebuild the tables and plots from the JSON files in --out")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work, out = Path(args.work), Path(args.out)
    if args.from_json:
        report(out)
        return
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)

    if args.only in (None, "sweep"):
        tr, te = split(args.sweep, 0.5, work, "sweep")
        ckpt = train(tr, work / "gode_sweep_half0.pt", args.steps_sweep, 3)
        methods = BUILTINS + ["lc:default", "lc:lc_gode", f"lc:{ckpt}"]
        res = replay(te, methods, args.orderings_sweep, args.workers)
        (out / "sweep.json").write_text(json.dumps(res, indent=1))

    if args.only in (None, "nb201"):
        tr, te = split(args.nb201, 0.3, work, "nb201")
        ckpt = train(tr, work / "gode_nb201_split0.pt", args.steps_nb201, 5)
        methods = BUILTINS + ["lc:default", f"lc:{ckpt}"]
        res = replay(te, methods, args.orderings_nb201, args.workers)
        (out / "nb201.json").write_text(json.dumps(res, indent=1))
    report(out)


if __name__ == "__main__":
    main()
