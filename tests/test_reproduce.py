import math
import os

from benchmarks import reproduce

TINY = ["--num-train", "16", "--num-valid", "8", "--num-test", "4", "--hidden", "8",
        "--batch-size", "8", "--epochs", "1", "--max-seconds", "30"]


def test_mean_and_standard_error():
    assert reproduce.mean_and_se([1.0, 3.0]) == (2.0, 1.0)
    mean, se = reproduce.mean_and_se([5.0])
    assert mean == 5.0 and math.isnan(se)


def test_every_row_runs_and_the_report_has_both_tables(tmp_path):
    out, data = str(tmp_path / "runs"), str(tmp_path / "data")
    args = TINY + ["--systems", "springs", "--data-root", data, "--out", out]
    markdown = reproduce.main(args + ["--seeds", "0"])
    lines = markdown.splitlines()
    for row in reproduce.ROWS.values():  # springs has every row of both tables
        cells = [line for line in lines if line.startswith(f"| {row.label} |")]
        assert len(cells) == len(row.tables), row.label
        assert "–" not in cells[0], cells  # no failed or missing run
    assert "| NRI (learned) | " in markdown and "(99.9 ± 0.0)" in markdown  # the paper beside
    assert "torch-nri train --system springs" in markdown and "--model true-graph" in markdown
    assert os.path.exists(os.path.join(out, "report.md"))
    # A second seed reuses the first seed's results and adds a standard error.
    log = os.path.join(out, "commands.log")
    before = open(log).read().count("\n")
    markdown = reproduce.main(args + ["--seeds", "0", "1", "--rows", "static", "corr-path"])
    assert open(log).read().count("\n") == before + 2  # only the two seed-1 cells ran
    static = next(line for line in markdown.splitlines() if line.startswith("| Static |"))
    assert static.count("±") == 3  # one per step: two seeds give a standard error


def test_a_failed_cell_is_reported_not_hidden(tmp_path, monkeypatch):
    out = str(tmp_path / "runs")
    monkeypatch.setitem(reproduce.SYSTEM_OPTIONS, "springs", ["--encoder", "no-such"])
    markdown = reproduce.main(TINY + ["--systems", "springs", "--rows", "nri", "--seeds", "0",
                                      "--data-root", str(tmp_path / "data"), "--out", out])
    assert "| NRI (learned) | – |" in markdown
    assert "exit 2" in open(os.path.join(out, "commands.log")).read()
