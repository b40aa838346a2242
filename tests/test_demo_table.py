"""The demo's table and plot compare pruners at equal accuracy: the epochs each study had spent when
its best first reached the lowest of the studies' bests (fast: hand-made traces, no training)."""

from __future__ import annotations

import pytest

from lc_hpo.demo import StudyResult, format_table, lowest_best, plot_demo


def study(name: str, trace: list[tuple[int, float]], pruned: int = 0) -> StudyResult:
    return StudyResult(name=name, n_trials=len(trace), n_pruned=pruned, epochs=trace[-1][0],
                       best_value=max(b for _, b in trace), seconds=1.0, trace=trace)


STUDIES = [
    study("LCPruner", [(10, 0.95), (12, 0.95), (22, 0.985), (32, 0.9955), (40, 0.9955)], pruned=2),
    study("median", [(10, 0.95), (11, 0.95), (21, 0.9911), (22, 0.9911)], pruned=2),
    study("none", [(10, 0.95), (20, 0.95), (30, 0.9933), (40, 0.9933), (50, 0.9933)]),
]


def cells(table: str, name: str) -> list[str]:
    row = next(line for line in table.splitlines() if line.startswith(f"| {name} |"))
    return [c.strip() for c in row.strip("|").split("|")]


def test_equal_accuracy_column_reads_each_study_at_the_lowest_best():
    assert lowest_best(STUDIES) == 0.9911 and lowest_best(STUDIES[:1]) is None
    table = format_table(STUDIES)
    assert table.splitlines()[0].endswith("| epochs to 0.9911, the lowest best |")
    # LCPruner first passes 0.9911 at 32 epochs; median sets it at 21; none passes it at 30
    assert cells(table, "LCPruner")[7] == "32"
    assert cells(table, "median")[7] == "21"
    assert cells(table, "none")[7] == "30"
    # beside it, within 0.2 points of none's best (0.9913): median never, LCPruner at 32 (64 %)
    assert cells(table, "median")[6] == "never" and cells(table, "LCPruner")[6] == "32 (64%)"


def test_a_single_study_has_no_equal_accuracy_column():
    table = format_table(STUDIES[2:])
    assert "lowest best" not in table and "within 0.2 points" in table


def test_plot_marks_the_lowest_best(tmp_path):
    pytest.importorskip("matplotlib")
    fig = plot_demo(STUDIES, tmp_path / "demo.png")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "the lowest best (0.9911)" in labels
    assert (tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"
