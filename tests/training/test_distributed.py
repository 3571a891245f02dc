"""Training under torch.distributed (gloo, 2 processes spawned by the test),
against one process on the same global batch."""
import csv
import os
import shutil
import socket

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F

from torch_nri.training import TrainConfig, train

TINY = dict(num_train=8, num_valid=4, num_test=4, encoder_hidden=8, decoder_hidden=8,
            batch_norm=False, progress=False, threads=1)


def deterministic_gumbel_softmax(logits, tau=1.0, hard=False, dim=-1):
    # Without noise: one process and two draw the same "samples", so their
    # runs can be compared number for number.
    soft = torch.softmax(logits / tau, dim)
    if not hard:
        return soft
    index = soft.argmax(dim, keepdim=True)
    return torch.zeros_like(soft).scatter_(dim, index, 1.0) - soft.detach() + soft


def forbidden(*args, **kwargs):
    raise AssertionError("only rank 0 writes files")


def worker(rank, world_size, port, config, resume):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    F.gumbel_softmax = deterministic_gumbel_softmax
    if rank != 0:
        from torch_nri.training import loop
        for name in ("atomic_torch_save", "atomic_write_text", "plot_curves", "_plot_example",
                     "_write_log"):
            setattr(loop, name, forbidden)
    try:
        train(TrainConfig(**config), resume=resume)
    finally:
        torch.distributed.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_distributed(config, resume=False):
    mp.spawn(worker, args=(2, free_port(), config, resume), nprocs=2, join=True)


def load(run_dir):
    return torch.load(os.path.join(run_dir, "last.pt"), weights_only=False)


def log_rows(run_dir):
    with open(os.path.join(run_dir, "log.csv")) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    data = str(root / "data")
    single = dict(TINY, data_root=data, epochs=1, batch_size=8, out=str(root / "single"))
    original = F.gumbel_softmax
    F.gumbel_softmax = deterministic_gumbel_softmax
    try:
        train(TrainConfig(**single))
    finally:
        F.gumbel_softmax = original
    # Two processes with 4 systems each: the same global batch of 8.
    run_distributed(dict(single, batch_size=4, out=str(root / "two")))
    return root


@pytest.mark.slow
def test_two_processes_take_the_same_step_as_one(runs):
    one, two = load(runs / "single"), load(runs / "two")
    assert two["epoch"] == 1
    for key, value in one["model"].items():
        assert torch.allclose(value, two["model"][key], atol=1e-6), key


@pytest.mark.slow
def test_metrics_are_reduced_over_the_processes(runs):
    one, two = log_rows(runs / "single")[0], log_rows(runs / "two")[0]
    for key in ("train_nll", "train_kl", "train_mse", "train_accuracy", "valid_nll",
                "valid_mse", "valid_accuracy"):
        assert float(two[key]) == pytest.approx(float(one[key]), rel=1e-5, abs=1e-7), key
    import json
    a = json.load(open(runs / "single" / "results.json"))
    b = json.load(open(runs / "two" / "results.json"))
    assert b["num_examples"] == a["num_examples"] == 4
    assert b["accuracy"] == a["accuracy"]
    assert b["mse"] == pytest.approx(a["mse"], rel=1e-4)


@pytest.mark.slow
def test_a_distributed_run_resumes(runs):
    base = dict(TINY, data_root=str(runs / "data"), batch_size=4)
    run_distributed(dict(base, epochs=2, out=str(runs / "whole")))
    shutil.copytree(runs / "two", runs / "resumed")
    run_distributed(dict(base, epochs=2, out=str(runs / "resumed")), resume=True)
    whole, resumed = load(runs / "whole"), load(runs / "resumed")
    assert whole["epoch"] == resumed["epoch"] == 2
    for key, value in whole["model"].items():
        assert torch.equal(value, resumed["model"][key]), key
    assert len(log_rows(runs / "resumed")) == 2


@pytest.mark.slow
def test_dnri_takes_the_same_step_under_two_processes(tmp_path):
    single = dict(TINY, model="dnri", system="proximity", num_nodes=3, epochs=1, batch_size=8,
                  data_root=str(tmp_path / "data"), out=str(tmp_path / "single"))
    original = F.gumbel_softmax
    F.gumbel_softmax = deterministic_gumbel_softmax
    try:
        train(TrainConfig(**single))
    finally:
        F.gumbel_softmax = original
    run_distributed(dict(single, batch_size=4, out=str(tmp_path / "two")))
    one, two = load(tmp_path / "single"), load(tmp_path / "two")
    for key, value in one["model"].items():
        assert torch.allclose(value, two["model"][key], atol=1e-6), key
