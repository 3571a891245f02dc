import os

from torch_nri.training.demo import DEMO_SETTINGS, PAPER_SETTINGS, describe, run_demo

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_demo_settings_are_the_ones_the_docs_state():
    stated = describe(DEMO_SETTINGS)
    for path in ("README.md", "docs/results.rst", "docs/fidelity.rst"):
        text = " ".join(open(os.path.join(ROOT, path)).read().split())  # rst wraps lines
        assert stated in text, f"{path} does not state the demo's settings: {stated!r}"


def test_describe_reads_missing_fields_as_the_papers_defaults():
    assert describe(PAPER_SETTINGS) == ("50k systems, hidden 256, batch 128, lr 0.0005, "
                                        "500 epochs, lr x 0.5 every 200 epochs, 2 free edge types")
    assert describe({**DEMO_SETTINGS, "lr_decay": 20, "gamma": 0.3}).endswith(
        "lr x 0.3 every 20 epochs, type 0 = no edge, relative positions")


def test_paper_runs_the_papers_setting(tmp_path, capsys):
    small = dict(epochs=1, num_train=16, num_valid=8, num_test=8, encoder_hidden=8,
                 decoder_hidden=8, progress=False)
    run_demo(str(tmp_path / "paper"), str(tmp_path / "data"), paper=True, **small)
    printed = capsys.readouterr().out
    assert "batch 128, lr 0.0005, 1 epochs, 2 free edge types" in printed
    config = open(tmp_path / "paper" / "config.json").read()
    assert '"skip_first": false' in config and '"lr": 0.0005' in config
