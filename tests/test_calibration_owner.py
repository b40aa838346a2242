"""The decision rule owns the standing calibration: predictors keep it only as checkpoint data.

The rule gets it as a parameter (``StoppingRule(..., calibration=...)``), read beside the weights by
``lc_hpo.defaults.resolve_calibration``; no predictor module imports the rule or the calibration.
"""

import ast
import pickle
from pathlib import Path

import pytest

from lc_hpo import LCPruner
from lc_hpo.decision import StoppingRule
from lc_hpo.defaults import bundled_calibration, resolve_calibration
from lc_hpo.learned import load_predictor
from lc_hpo.predictors import make_predictor
from lc_hpo.standing import StandingCalibration

PACKAGE = Path(__file__).resolve().parents[1] / "lc_hpo"
FORBIDDEN = {"lc_hpo.decision", "lc_hpo.standing"}


def _imports(text: str, package: str) -> set[str]:
    """Every module a file of ``package`` imports, relative imports resolved."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            parts = parts[:len(parts) - node.level + 1] if node.level else []
            module = ".".join([*parts, node.module] if node.module else parts)
            out.add(module)
            out.update(f"{module}.{a.name}" for a in node.names)  # `from .. import standing`
    return out


def _package(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).parts[:-1])


@pytest.mark.parametrize("folder", ["predictors", "learned"])
def test_no_predictor_module_imports_the_rule_or_its_calibration(folder):
    files = sorted((PACKAGE / folder).rglob("*.py"))
    assert files
    offenders = {f.name: sorted(_imports(f.read_text(), _package(f)) & FORBIDDEN) for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("line", ["from ..standing import StandingCalibration",
                                  "from .. import decision", "import lc_hpo.decision",
                                  "from lc_hpo.standing import features"])
def test_the_import_check_sees_each_way_of_importing(line):
    assert _imports(line, "lc_hpo.learned") & FORBIDDEN


def test_predictors_carry_no_calibration_object():
    default = make_predictor("default")
    assert not hasattr(default, "standing_")
    assert isinstance(default.metadata_["standing"], dict)  # plain data in the checkpoint


def test_the_pruner_hands_the_rule_the_calibration_beside_its_predictor(tmp_path):
    bundled = bundled_calibration()
    assert isinstance(bundled, StandingCalibration)
    assert LCPruner().rule.calibration == bundled
    assert LCPruner(standing=False).rule.calibration is None
    assert LCPruner("parametric").rule.calibration is None  # nothing stored beside it
    # "study" forecasts with its base (the bundled default) and gets its base's calibration
    study = LCPruner("study").rule
    assert study.calibration == bundled and study.needs_context
    # a checkpoint path: the calibration saved in that checkpoint
    make_predictor("default").save(tmp_path / "copy.pt")
    assert LCPruner(str(tmp_path / "copy.pt")).rule.calibration == bundled


def test_a_checkpoint_without_a_calibration_loads_and_decides_on_the_forecast(tmp_path):
    model = load_predictor_copy(tmp_path)
    del model.metadata_["standing"]  # as a checkpoint made before `lc-hpo calibrate`
    model.save(tmp_path / "plain.pt")
    plain = load_predictor(tmp_path / "plain.pt")
    assert resolve_calibration(plain) is None
    assert LCPruner(str(tmp_path / "plain.pt")).rule.calibration is None


def load_predictor_copy(tmp_path):
    make_predictor("default").save(tmp_path / "d.pt")
    return load_predictor(tmp_path / "d.pt")


def test_a_rule_pickled_when_the_predictor_held_the_calibration_keeps_it():
    rule = StoppingRule(make_predictor("last_value"))
    state = rule.__getstate__()
    del state["calibration"]
    state["standing"] = True
    predictor = make_predictor("last_value")
    predictor.standing_ = bundled_calibration()  # where an earlier version kept it
    state["predictor"] = predictor
    old = StoppingRule.__new__(StoppingRule)
    old.__setstate__(state)
    restored = pickle.loads(pickle.dumps(old))
    assert restored.calibration == bundled_calibration()
    state["standing"] = False
    old.__setstate__({k: v for k, v in state.items() if k != "calibration"})
    assert old.calibration is None
