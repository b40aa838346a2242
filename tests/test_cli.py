from pathlib import Path

import pytest

import lc_hpo
from lc_hpo.cli import main

BUNDLED = str(Path(lc_hpo.__file__).parent / "models" / "default.pt")


def test_demo_runs_three_real_studies_and_prints_the_table(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "demo.png"
    assert main(["demo", "--trials", "7", "--epochs", "3", "--quiet", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "epochs to within 0.2 points of none's best" in out
    rows = {}
    for name in ("LCPruner", "median", "none"):
        assert f"| {name} |" in out
        row = next(line for line in out.splitlines() if line.startswith(f"| {name} |"))
        rows[name] = [c.strip() for c in row.strip("|").split("|")]
    cells = rows["none"]
    assert cells[1] == "7" and cells[2] == "0" and cells[3].startswith("21")  # 7 trials x 3 epochs
    assert 0.1 < float(cells[4]) <= 1.0
    # The unpruned study reaches its own best at the end of some trial: 3 to 21 epochs, in steps of 3.
    reached = int(cells[6].split()[0])
    assert 3 <= reached <= 21 and reached % 3 == 0
    for name in ("LCPruner", "median"):
        hit = rows[name][6]
        assert hit == "never" or 1 <= int(hit.split()[0]) <= int(rows[name][3].split()[0])
    # At equal accuracy: every study reaches the lowest of the bests within its own epochs (after at
    # least one completed 3-epoch trial); the unpruned one at the end of a trial.
    low = min(float(cells[4]) for cells in rows.values())
    assert f"epochs to {low:.4f}, the lowest best" in out
    for cells in rows.values():
        assert 3 <= int(cells[7]) <= int(cells[3].split()[0])
    assert int(rows["none"][7]) % 3 == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and str(plot) in out
    assert main(["demo", "--trials", "2", "--epochs", "1", "--quiet", "--no-plot",
                 "--plot", str(tmp_path / "none.png")]) == 0
    assert not (tmp_path / "none.png").exists()


def test_latency_bench_reports_both_pruners(capsys):
    assert main(["bench", "latency", "--finished", "20", "--running", "2", "--steps", "10",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| 20 | LCPruner |" in out and "| 20 | MedianPruner |" in out and "added p50" in out


def test_unknown_command_exits_with_usage():
    with pytest.raises(SystemExit):
        main(["frobnicate"])


def test_bad_input_is_one_line_on_stderr_not_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task": "t", "config": {}, "steps": [2, 1], "values": [0.1, 0.2], '
                   '"mode": "max", "max_step": 2}\n')
    assert main(["data", "diverged", str(bad), "--above", "10", "--out",
                 str(tmp_path / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lc-hpo: ") and "bad.jsonl:1" in err and "Traceback" not in err
    assert main(["bench", "predict", "--curves", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such curve-set file" in capsys.readouterr().err


@pytest.mark.parametrize("argv, option", [
    (["bench", "latency", "--running", "0"], "--running"),
    (["bench", "latency", "--steps", "0"], "--steps"),
    (["bench", "latency", "--finished", "-5"], "--finished"),
    (["bench", "hpo", "--curves", "x.jsonl", "--workers", "0"], "--workers"),
    (["bench", "hpo", "--curves", "x.jsonl", "--budget", "nan"], "--budget"),
    (["bench", "decide", "--curves", "x.jsonl", "--situations", "-1"], "--situations"),
    (["data", "lcbench", "--configs", "0", "--out", "x.jsonl"], "--configs"),
    (["data", "record", "--epochs", "-5", "--out", "x.jsonl"], "--epochs"),
    (["train", "--prior", "--prior-tasks", "0", "--out", "x.pt"], "--prior-tasks"),
    (["train", "--prior", "--minutes", "0", "--out", "x.pt"], "--minutes"),
    (["calibrate", "--checkpoint", "x.pt", "--curves", "x.jsonl", "--max-finished", "0"],
     "--max-finished"),
])
def test_counts_below_their_minimum_are_refused_naming_the_option(argv, option, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and "Traceback" not in err


def test_a_curve_file_without_curves_is_an_input_error(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    for argv in (["bench", "hpo", "--curves", str(empty), "--methods", "none"],
                 ["bench", "predict", "--curves", str(empty)],
                 ["calibrate", "--checkpoint", BUNDLED, "--curves", str(empty)],
                 ["train", "--curves", str(empty), "--out", str(tmp_path / "x.pt")]):
        assert main(argv) == 2
        assert "empty.jsonl: no curves in this file" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "x.pt")]) == 2
    assert "nothing to train on" in capsys.readouterr().err


def test_a_task_that_mixes_directions_is_refused_by_every_bench(tmp_path, capsys):
    mixed = tmp_path / "mixed.jsonl"
    lines = [f'{{"task": "t", "config_id": "{i}", "config": {{}}, "metric": "m", '
             f'"mode": "{mode}", "steps": [1, 2, 3, 4], "values": [0.1, 0.2, 0.3, 0.{i + 4}]}}'
             for i, mode in enumerate(["max", "max", "min"])]
    mixed.write_text("\n".join(lines) + "\n")
    for command in ("predict", "decide", "hpo"):
        assert main(["bench", command, "--curves", str(mixed), "--predictors" if command != "hpo"
                     else "--methods", "last_value" if command != "hpo" else "none"]) == 2
        assert "task 't' mixes modes ['max', 'min']" in capsys.readouterr().err


def test_bench_predict_on_one_point_curves_says_why_instead_of_printing_nan(tmp_path, capsys):
    single = tmp_path / "single.jsonl"
    single.write_text("".join(f'{{"task": "t", "config_id": "{i}", "config": {{}}, "metric": "m", '
                              f'"mode": "max", "steps": [1], "values": [0.{i + 1}]}}\n'
                              for i in range(3)))
    assert main(["bench", "predict", "--curves", str(single)]) == 2
    assert "at least two points" in capsys.readouterr().err
    first_diverged = tmp_path / "first_diverged.jsonl"
    first_diverged.write_text("".join(
        f'{{"task": "t", "config_id": "{i}", "config": {{}}, "metric": "m", "mode": "max", '
        f'"steps": [1, 2], "values": [null, 0.{i + 1}]}}\n' for i in range(3)))
    assert main(["bench", "predict", "--curves", str(first_diverged)]) == 2
    assert "could score no curve" in capsys.readouterr().err


def test_inf_still_means_no_limit_where_a_limit_is_optional(tmp_path):
    curves = tmp_path / "c.jsonl"
    from lc_hpo import write_curves
    from lc_hpo.learned import synthetic_curves

    write_curves(synthetic_curves(2, 4, seed=1), curves)
    assert main(["data", "diverged", str(curves), "--above", "inf", "--out",
                 str(tmp_path / "d.jsonl")]) == 0
    with pytest.warns(UserWarning, match="before its first validation"):  # 3 steps: a smoke test
        assert main(["train", "--curves", str(curves), "--minutes", "inf", "--max-steps", "3",
                     "--hidden", "4", "--out", str(tmp_path / "m.pt"), "--quiet"]) == 0


def test_merging_files_that_share_ids_into_one_is_refused(tmp_path, capsys):
    curves = tmp_path / "c.jsonl"
    from lc_hpo import write_curves
    from lc_hpo.learned import synthetic_curves

    write_curves(synthetic_curves(2, 4, seed=1), curves)
    out = tmp_path / "merged.jsonl"
    assert main(["data", "diverged", str(curves), str(curves), "--above", "10", "--out",
                 str(out)]) == 2
    assert "in more than one of these files" in capsys.readouterr().err and not out.exists()
