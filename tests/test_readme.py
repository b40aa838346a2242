"""The README's two set-up commands are the ones CI and users run: keep them in step with .ci/run."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)


def test_readme_has_the_two_commands_and_ci_runs_the_test_one():
    commands = _commands()
    demo = next(c for c in commands if c.rstrip().endswith("lc-hpo demo"))
    tests = next(c for c in commands if "pytest" in c)
    assert "torch==2.13.0" in demo and "torch==2.13.0" in tests
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert tests.strip() == ci[-1]  # the README's test command is CI's last step
    lint = [i for i, line in enumerate(ci) if line.startswith((".venv/bin/ruff ", ".venv/bin/mypy "))]
    assert len(lint) == 2 and max(lint) < len(ci) - 1  # lint and type-check run before the tests


def test_every_subpackage_is_listed_for_installation():
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "lc_hpo").rglob("__init__.py")}
    found.add("lc_hpo.integrations")  # mapped from integrations/
    assert found == listed


def test_lcscheduler_without_ray_says_which_extra_to_install():
    import subprocess
    import sys

    code = ("import sys; sys.modules['ray'] = None\n"  # as if Ray Tune were not installed
            "import lc_hpo\n"
            "lc_hpo.LCScheduler\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "ModuleNotFoundError" in out.stderr and "lc-hpo[ray]" in out.stderr
