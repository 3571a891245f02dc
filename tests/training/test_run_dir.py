import csv
import json
import math
import os

import pytest
import torch

from torch_nri.datasets import MinMaxStats
from torch_nri.training import RunDirectory
from torch_nri.training.run_dir import LOG_FIELDS, PLOTS

CHECKPOINT = {"model_config": {"model": "NRI"}, "model": {"weight": torch.arange(3.0)},
              "epoch": 2}


def same_checkpoint(a, b):
    return (a.keys() == b.keys() and a["model_config"] == b["model_config"]
            and torch.equal(a["model"]["weight"], b["model"]["weight"])
            and a["epoch"] == b["epoch"])


def test_every_file_round_trips(tmp_path):
    run = RunDirectory(str(tmp_path / "run"))
    config = {"system": "springs", "num_nodes": 5, "prior": None, "physics": {"dt": 0.001}}
    run.write_config(config)
    assert run.read_config() == config
    stats = MinMaxStats([[0, 1], [2, 3]], [-1.0, -2.0], [1.0, 2.0], ["position", "velocity"])
    run.write_stats(stats)
    assert run.read_stats().to_dict() == stats.to_dict()
    run.write_best(CHECKPOINT)
    assert same_checkpoint(run.read_best(), CHECKPOINT)
    last = {**CHECKPOINT, "epoch": 3, "history": [], "best_score": 0.5}
    run.write_last(last)
    read = run.read_last()
    assert same_checkpoint(read, last) and read["best_score"] == 0.5
    history = [{**{field: float(i) for field in LOG_FIELDS}, "epoch": i + 1} for i in range(2)]
    history[1]["valid_accuracy"] = float("nan")  # no relations: accuracy is NaN
    run.write_log(history)
    read = run.read_log()
    assert [row["epoch"] for row in read] == [1, 2] and isinstance(read[0]["epoch"], int)
    assert read[0] == history[0] and math.isnan(read[1]["valid_accuracy"])
    results = {"accuracy": 0.9, "mse": [1e-5, 2e-5], "run_dir": run.path}
    run.write_results(results)
    assert run.read_results() == results
    assert sorted(os.listdir(run.path)) == ["best.pt", "config.json", "last.pt", "log.csv",
                                            "results.json", "stats.json"]


def test_the_files_keep_their_names_and_formats(tmp_path):
    # A run directory made by hand (or by an older torch_nri) reads, and what
    # the class writes reads with json, csv and torch alone.
    (tmp_path / "config.json").write_text(json.dumps({"epochs": 2}))
    (tmp_path / "results.json").write_text(json.dumps({"accuracy": 1.0}))
    (tmp_path / "stats.json").write_text(json.dumps(
        {"groups": [[0]], "minimum": [0.0], "maximum": [1.0]}))  # 0.1.0: no names
    torch.save(CHECKPOINT, tmp_path / "best.pt")
    run = RunDirectory(str(tmp_path))
    assert run.read_config() == {"epochs": 2} and run.read_results() == {"accuracy": 1.0}
    assert run.read_stats().names is None and same_checkpoint(run.read_best(), CHECKPOINT)
    run.write_log([{field: 1 for field in LOG_FIELDS}])
    with open(tmp_path / "log.csv", newline="") as f:
        assert next(csv.reader(f)) == list(LOG_FIELDS)
    run.write_last(CHECKPOINT)
    assert same_checkpoint(torch.load(tmp_path / "last.pt", weights_only=False), CHECKPOINT)
    run.write_config({"epochs": 3})
    assert json.loads((tmp_path / "config.json").read_text()) == {"epochs": 3}
    assert [os.path.basename(run.plot_path(name)) for name in PLOTS] == [
        "curves.png", "trajectories.png", "graph.png", "roc.png"]
    with pytest.raises(ValueError, match=r"'name' must be one of \('curves'"):
        run.plot_path("loss")


@pytest.mark.parametrize("read, name, says", [
    ("read_config", "config.json", r"no run in .*empty: .*config.json is missing"),
    ("read_stats", "stats.json", r"stats.json \(the run's normalisation, needed for --data\) "
                                 r"is missing"),
    ("read_best", "best.pt", r"no trained model in .*empty: .*best.pt \(the run's best "
                             r"checkpoint, written by torch-nri train\) is missing"),
    ("read_last", "last.pt", r"nothing to resume in .*empty: .*last.pt \(the run's checkpoint "
                             r"of its last epoch\) is missing"),
    ("read_log", "log.csv", r"log.csv \(the run's log of its epochs\) is missing"),
    ("read_results", "results.json", r"no test results in .*empty: .*results.json \(written "
                                     r"when training ends\) is missing"),
])
def test_a_missing_file_is_named_with_what_it_is(tmp_path, read, name, says):
    run = RunDirectory(str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match=says) as error:
        getattr(run, read)()
    assert os.path.join(run.path, name) in str(error.value)


def test_unreadable_files_are_named(tmp_path):
    run = RunDirectory(str(tmp_path))
    for path in (run.config_path, run.stats_path, run.results_path):
        with open(path, "w") as f:
            f.write("{not json")
    with open(run.log_path, "w") as f:
        f.write("epoch,lr\nfirst,0.1\n")
    with pytest.raises(ValueError, match=r"config.json is not a readable run configuration"):
        run.read_config()
    with pytest.raises(ValueError, match=r"stats.json \(the run's normalisation, needed for "
                                         r"--data\) is not readable"):
        run.read_stats()
    with pytest.raises(ValueError, match=r"results.json is not readable test results"):
        run.read_results()
    with pytest.raises(ValueError, match=r"log.csv is not a readable log of epochs"):
        run.read_log()
    with open(run.config_path, "w") as f:
        json.dump([1, 2], f)
    with pytest.raises(ValueError, match=r"config.json is not a run configuration: it holds "
                                         r"a list"):
        run.read_config()
    with open(run.best_path, "wb") as f:
        f.write(b"garbage")
    with pytest.raises(ValueError, match=r"best.pt is corrupted or not a torch file"):
        run.read_best()
