import pytest

from lc_hpo.cli import main


def test_demo_runs_three_real_studies_and_prints_the_table(capsys):
    assert main(["demo", "--trials", "7", "--epochs", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    for name in ("LCPruner", "median", "none"):
        assert f"| {name} |" in out
    none_row = next(line for line in out.splitlines() if line.startswith("| none |"))
    cells = [c.strip() for c in none_row.strip("|").split("|")]
    assert cells[1] == "7" and cells[2] == "0" and cells[3].startswith("21")  # 7 trials x 3 epochs
    assert 0.1 < float(cells[4]) <= 1.0


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
