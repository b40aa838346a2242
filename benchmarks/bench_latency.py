"""Added latency of trial.should_prune() with LCPruner against MedianPruner, measured side by side.

Same as ``lc-hpo bench latency``; run: python benchmarks/bench_latency.py
"""

from lc_hpo.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "latency", *__import__("sys").argv[1:]]))
