import json
import os
import re
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "torch_nri", *args], capture_output=True,
                           text=True)


def test_version():
    from torch_nri import __version__
    assert run("--version").stdout.strip() == f"torch-nri {__version__}"


def test_demo_prints_the_table_and_saves_the_run(tmp_path, capsys):
    from torch_nri.training.demo import run_demo
    results = run_demo(str(tmp_path / "demo"), str(tmp_path / "data"), epochs=1, num_train=32,
                       num_valid=8, num_test=8, progress=False)
    printed = capsys.readouterr().out
    assert "edge accuracy" in printed and "MSE 20 steps" in printed and "NRI paper" in printed
    assert f"{100 * results['accuracy']:.1f}%" in printed
    assert os.path.isfile(tmp_path / "demo" / "trajectories.png")


def test_generate_writes_a_cached_dataset(tmp_path):
    result = run("generate", "springs", "--num-train", "8", "--num-valid", "2", "--num-test",
                 "2", "--length", "1000", "--test-length", "1000", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    cache = result.stdout.strip().split("cached in ")[1]
    assert sorted(os.listdir(cache))[:4] == ["meta.json", "pre_filter.pt", "pre_transform.pt",
                                             "test.pt"]
    from torch_nri.datasets import SpringsDataset
    ds = SpringsDataset(str(tmp_path), split="valid", num_train=8, num_valid=2, num_test=2,
                        length=1000, test_length=1000)
    assert len(ds) == 2 and ds.processed_dir == cache


def test_generate_kuramoto_feature_sets(tmp_path, capsys):
    from torch_nri.cli import main

    sizes = ["--num-train", "4", "--num-valid", "2", "--num-test", "2", "--out", str(tmp_path)]
    caches = {}
    for features in ("authors", "analytic"):
        assert main(["generate", "kuramoto", "--features", features, *sizes]) == 0
        caches[features] = capsys.readouterr().out.strip().split("cached in ")[1]
    assert caches["authors"] != caches["analytic"]
    meta = json.loads(open(os.path.join(caches["analytic"], "meta.json")).read())
    assert meta["params"]["physics"] == {"features": "analytic"}


def test_boolean_physics_are_flag_pairs(tmp_path, capsys):
    from torch_nri.cli import main

    sizes = ["--num-train", "2", "--num-valid", "1", "--num-test", "1", "--length", "200",
             "--test-length", "200", "--out", str(tmp_path)]
    caches = {}
    for flags in (["--walls"], ["--no-walls", "--density", "4"]):
        assert main(["generate", "springs", *flags, *sizes]) == 0
        caches[flags[0]] = capsys.readouterr().out.strip().split("cached in ")[1]
    physics = {flag: json.loads(open(os.path.join(cache, "meta.json")).read())["params"]["physics"]
               for flag, cache in caches.items()}
    assert physics == {"--walls": {}, "--no-walls": {"density": 4.0, "walls": False}}


def test_generate_reports_bad_arguments():
    result = run("generate", "kuramoto", "--graph", "knn", "--k", "3")
    assert result.returncode == 2 and "no positions for a kNN graph" in result.stderr


@pytest.mark.parametrize("name", ["correlation", "lstm-correlation"])
def test_correlation_baselines_from_the_command_line(tmp_path, name):
    result = run("baseline", name, "--system", "springs", "--num-train", "16",
                 "--num-valid", "4", "--num-test", "4", "--data-root", str(tmp_path),
                 "--epochs", "1", "--hidden", "8")
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("test accuracy ")[1].split("%")[0])
    assert 0.0 <= accuracy <= 100.0 and "absolute=" in result.stdout


TINY_TRAIN = ["--epochs", "1", "--encoder-hidden", "8", "--decoder-hidden", "8",
              "--batch-size", "8", "--no-progress", "--threads", "1"]


def test_train_uses_the_cache_that_generate_made(tmp_path, monkeypatch, capsys):
    from torch_nri.cli import main
    from torch_nri.datasets.simulated import SimulatedDataset

    data = ["--num-train", "16", "--num-valid", "4", "--num-test", "4", "--length", "600",
            "--test-length", "2000", "--sample-freq", "20", "--box-size", "4.0",
            "--data-root", str(tmp_path / "data")]
    result = run("generate", "springs", *data)
    assert result.returncode == 0, result.stderr

    def refuse(self):
        raise AssertionError("train simulated the data again")

    monkeypatch.setattr(SimulatedDataset, "process", refuse)
    assert main(["train", *data, *TINY_TRAIN, "--out", str(tmp_path / "run")]) == 0
    assert "edge accuracy" in capsys.readouterr().out
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["sample_freq"] == 20 and config["physics"] == {"box_size": 4.0}
    assert config["observed_steps"] == 29  # 600 / 20 - 1 steps, recorded by the run


def test_train_and_evaluate_your_own_trajectories(tmp_path, capsys):
    from torch_nri.cli import main
    from tests.datasets.test_trajectory import write_splits

    directory = write_splits(tmp_path / "own", num_nodes=7, num_features=3, steps=(16, 16, 40))
    run_dir = str(tmp_path / "run")
    assert main(["train", "--data", directory, "--graph", "knn", "--k", "4", *TINY_TRAIN,
                 "--out", run_dir]) == 0
    capsys.readouterr()
    assert main(["evaluate", run_dir, "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert len(metrics["mse"]) == 20 and 0 <= metrics["accuracy"] <= 1
    assert 0 < metrics["candidate_recall"] < 1  # 4 of 6 possible senders per object
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["groups"] == [[0], [1], [2]]
    # Without true relations, accuracy is not available; resuming works as for simulations.
    unlabelled = write_splits(tmp_path / "unlabelled", edges=False, steps=(16, 16, 40))
    other = str(tmp_path / "other")
    assert main(["train", "--data", unlabelled, *TINY_TRAIN, "--out", other]) == 0
    assert "edge accuracy     n/a" in capsys.readouterr().out
    assert main(["train", "--data", unlabelled, *TINY_TRAIN, "--epochs", "2", "--out", other,
                 "--resume"]) == 0
    assert json.loads((tmp_path / "other" / "results.json").read_text())["epochs"] == 2


def test_bad_trajectory_files_are_one_line_errors(tmp_path):
    import numpy as np
    from tests.datasets.test_trajectory import write_splits

    directory = write_splits(tmp_path / "own", steps=(16, 16, 40))
    np.savez(tmp_path / "own" / "valid.npz", x=np.zeros((2, 16, 7, 3)),
             edges=np.zeros((2, 7, 7)))
    result = run("train", "--data", directory, "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("torch-nri train: error: 'edges' in ")
    assert "valid.npz must hold integer edge types" in result.stderr


def test_dnri_on_the_proximity_system_from_the_command_line(tmp_path, capsys):
    from torch_nri.cli import main

    run_dir = str(tmp_path / "run")
    args = ["train", "--model", "dnri", "--system", "proximity", "--num-nodes", "3",
            "--num-train", "16", "--num-valid", "4", "--num-test", "4", "--epochs", "1",
            "--encoder-hidden", "8", "--decoder-hidden", "8", "--batch-size", "8",
            "--no-progress", "--threads", "1", "--data-root", str(tmp_path / "data"),
            "--out", run_dir]
    assert main(args) == 0
    assert "edge F1" in capsys.readouterr().out
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"] == "dnri" and config["encoder"] == "dnri"
    assert main(["evaluate", run_dir, "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert {"accuracy", "f1", "mse"} <= set(results)


def test_dnri_on_your_own_relations_that_change_over_time(tmp_path, capsys):
    from torch_nri.cli import main
    from tests.datasets.test_trajectory import write_splits

    directory = write_splits(tmp_path / "own", num_nodes=6, num_features=4, steps=(16, 16, 40),
                             per_step=True, listed=True)
    run_dir = str(tmp_path / "run")
    assert main(["train", "--model", "dnri", "--data", directory, "--graph", "radius",
                 "--graph-radius", "6", "--position-features", "2", "3", *TINY_TRAIN,
                 "--out", run_dir]) == 0
    printed = capsys.readouterr().out
    assert "edge F1" in printed and "candidate recall" in printed
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["graph_radius"] == 6.0 and config["position_features"] == [2, 3]
    for data in ([], ["--data", os.path.join(directory, "test.npz")]):
        assert main(["evaluate", run_dir, "--json", *data]) == 0
        results = json.loads(capsys.readouterr().out)
        assert len(results["accuracy_per_step"]) == len(results["f1_per_step"]) == 16
        assert 0 < results["candidate_recall"] <= 1 and 0 <= results["accuracy"] <= 1
    assert os.path.isfile(tmp_path / "run" / "graph.png")


def test_the_candidate_graph_options_say_what_they_do():
    from torch_nri.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    for command in ("train", "generate", "baseline"):
        actions = {a.dest: a for a in subparsers[command]._actions}
        for dest in ("graph", "graph_radius", "position_features"):
            assert not actions[dest].help.startswith("(default"), (command, dest)
        assert actions["graph"].choices == ("full", "knn", "radius")
        assert actions["position_features"].nargs == "+"


def _help_texts():
    # (command, option, its help as --help prints it) for every argument of
    # every subcommand, positional ones and the subcommands included.
    import argparse

    from torch_nri.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    parsers = [("torch-nri", parser), *commands.choices.items()]
    for choice in commands._choices_actions:
        yield "torch-nri", choice.dest, choice.help
    for command, sub in parsers:
        formatter = sub._get_formatter()
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            name = "/".join(action.option_strings) or action.dest
            help = action.help
            yield command, name, (formatter._expand_help(action)
                                  if isinstance(help, str) and help != argparse.SUPPRESS
                                  else help)


DEFAULT = re.compile(r"\(default: (?:[^()]|\([^()]*\))*\)")


def test_every_option_has_help_beyond_its_default():
    # Each option says what it does in a sentence; its "(default: X)" is extra.
    texts = list(_help_texts())
    assert len(texts) > 167  # the issue counted 167 options
    missing = [(command, name, help) for command, name, help in texts
               if not isinstance(help, str) or len(DEFAULT.sub("", help).split()) < 4]
    assert not missing, missing
    twice = [(command, name, help) for command, name, help in texts
             if help.count("(default:") > 1]
    assert not twice, twice


def test_every_physics_option_says_what_it_is_and_which_systems_read_it():
    from torch_nri.datasets import physics_parameters

    texts = {name: help for command, name, help in _help_texts() if command == "train"}
    for parameter in physics_parameters():
        flag = "--" + parameter.replace("_", "-")
        help = next(h for name, h in texts.items() if name.split("/")[0] == flag)
        assert "(systems: " in help and not help.startswith("(systems"), (flag, help)


def test_the_train_options_are_the_config_fields():
    # Each TrainConfig field is a train flag with its metadata's help, choices
    # and default, in its group; the data groups are generate's and baseline's.
    import argparse

    from torch_nri.cli import build_parser
    from torch_nri.training.config import OPTION_GROUPS, option_choices, options

    subparsers = next(a for a in build_parser()._actions if a.dest == "command").choices
    train = subparsers["train"]
    group_of = {action.dest: group.title for group in train._action_groups
                for action in group._group_actions}
    actions = {action.dest: action for action in train._actions}
    for option in options():
        if option.name == "physics":  # a flag per physics parameter, in its group
            physics = [dest for dest in actions if dest.startswith("physics:")]
            assert physics and {group_of[dest] for dest in physics} == {OPTION_GROUPS["physics"]}
            continue
        action = actions[option.name]
        assert action.option_strings[0] == "--" + option.name.replace("_", "-")
        assert action.help.startswith(option.metadata["help"]), option.name
        assert action.choices == option_choices(option), option.name
        assert action.default == option.default, option.name
        assert group_of[option.name] == OPTION_GROUPS[option.metadata["group"]], option.name
        if option.type is bool:
            assert isinstance(action, argparse.BooleanOptionalAction), option.name
    assert {dest for dest in actions if ":" not in dest} == {f.name for f in options()} - {
        "physics"} | {"help", "resume"}
    data = {f.name for f in options("data")}
    for command, others in (("generate", {"help", "seed", "force"}),
                            ("baseline", {"help", "name", "seed", "epochs", "max_seconds", "lr",
                                          "hidden", "observed_steps", "horizon", "out",
                                          "device"})):
        dests = {a.dest for a in subparsers[command]._actions if ":" not in a.dest}
        assert dests - others == (data - {"data"} if command == "generate" else data), command
