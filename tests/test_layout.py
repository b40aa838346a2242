"""The product never imports the laboratory: no product module pulls in ``lc_hpo.bench`` or ``benchmarks``.

Every module under ``lc_hpo/`` and ``integrations/`` is product except the laboratory itself and the few
modules that exist to drive it (the command line, the demo, the old ``lc_hpo.tasks`` import path).  Each
product module is imported in turn in one fresh interpreter, and ``sys.modules`` is checked after each.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Modules allowed to import the laboratory: it, and what drives it (also every ``*_cli`` module: the
#: command-line parts, e.g. ``lc-hpo calibrate`` draws its situations with the bench's code).
LAB = ("lc_hpo.bench", "lc_hpo.cli", "lc_hpo.demo", "lc_hpo.tasks")
#: The modules the issue names; they must exist (a rename should update this test, not skip it).
NAMED = ("lc_hpo.curve", "lc_hpo.forecast", "lc_hpo.predictors", "lc_hpo.learned", "lc_hpo.decision",
         "lc_hpo.integrations.optuna", "lc_hpo.integrations.ray_tune")


def _is_lab(name: str) -> bool:
    return name.endswith("_cli") or any(name == lab or name.startswith(lab + ".") for lab in LAB)


def product_modules() -> list[str]:
    found = ["lc_hpo"]
    for info in pkgutil.walk_packages([str(ROOT / "lc_hpo")], prefix="lc_hpo."):
        if not _is_lab(info.name):
            found.append(info.name)
    for info in pkgutil.iter_modules([str(ROOT / "integrations")], prefix="lc_hpo.integrations."):
        found.append(info.name)
    return sorted(set(found))


CHECK = """
import importlib, json, sys
first = {}
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
    for loaded in list(sys.modules):
        if (loaded == "lc_hpo.bench" or loaded.startswith(("lc_hpo.bench.", "benchmarks"))) \\
                and loaded not in first:
            first[loaded] = name
print(json.dumps(first))
"""


def test_product_modules_are_found():
    modules = product_modules()
    assert set(NAMED) <= set(modules), sorted(set(NAMED) - set(modules))
    assert not any(m.startswith("lc_hpo.bench") for m in modules)


def test_no_product_module_imports_the_laboratory():
    pytest.importorskip("ray")  # the Ray adapter is a product module; it needs the optional extra
    # The demo, imported last, does use the laboratory's training tasks: that shows the check sees it.
    modules = product_modules() + ["lc_hpo.demo"]
    done = subprocess.run([sys.executable, "-c", CHECK, json.dumps(modules)], capture_output=True,
                          text=True, timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    first = json.loads(done.stdout.strip().splitlines()[-1])
    leaked = {lab: by for lab, by in first.items() if by != "lc_hpo.demo"}
    assert leaked == {}, "laboratory modules imported by product modules (lab module: importer): " + \
        ", ".join(f"{lab}: {by}" for lab, by in sorted(leaked.items()))
    assert "lc_hpo.bench.tasks" in first
