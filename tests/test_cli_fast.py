"""The command line: --version, a --help that does not import torch, every option explained."""

import argparse
import subprocess
import sys

from lc_hpo import __version__
from lc_hpo.cli import build_parser, main


def _parsers(parser, path="lc-hpo"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert capsys.readouterr().out.strip() == f"lc-hpo {__version__}"


def test_help_does_not_import_torch():
    code = ("import sys\nfrom lc_hpo.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
    assert "train" in out.stdout and "calibrate" in out.stdout


def test_the_torch_commands_still_parse_and_explain_themselves(capsys):
    for command in ("train", "calibrate"):
        try:
            main([command, "--help"])
        except SystemExit as exc:
            assert exc.code == 0
        assert "--curves" in capsys.readouterr().out


def test_every_option_has_a_help_line_and_shows_its_default():
    missing, no_default = [], []
    for path, parser in _parsers(build_parser()):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            if not action.help:
                missing.append(f"{path} {action.option_strings[0]}")
            meaningful = action.default not in (None, False, argparse.SUPPRESS)
            if meaningful and "default" not in (formatter._get_help_string(action) or ""):
                no_default.append(f"{path} {action.option_strings[0]}")
    assert missing == [] and no_default == []


def test_bench_predict_scores_the_default_by_default():
    args = build_parser().parse_args(["bench", "predict", "--curves", "x.jsonl"])
    assert args.predictors.split(",")[0] == "default"


def test_regret_plot_emphasises_the_product_and_keeps_colours_apart(tmp_path):
    import matplotlib

    from lc_hpo.bench.plots import PRODUCT, plot_anytime_regret

    backend = matplotlib.get_backend()
    methods = ["none", "oracle", "median", "asha", PRODUCT, "lc:parametric", "lc:study", "hyperband"]
    results = {"setup": {"max_step": {"t": 5}},
               "anytime_regret": {"t": {m: [1.0 / (i + k + 1) for i in range(40)]
                                        for k, m in enumerate(methods)}}}
    fig = plot_anytime_regret(results, tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 0
    assert matplotlib.get_backend() == backend
    lines = {ln.get_label(): ln for ln in fig.axes[0].lines}
    assert max(lines, key=lambda m: lines[m].get_linewidth()) == PRODUCT
    looks = [(ln.get_color(), ln.get_linestyle()) for ln in lines.values()]
    assert len(set(looks)) == len(methods)
