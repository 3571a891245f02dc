r"""A training step reads nothing back to the host, for every model, encoder,
decoder and option: it runs here on the ``meta`` device, whose tensors have
shapes but no values, so that any read of a value (``.item()``,
``.tolist()``, ``int(t)``, a boolean mask, ``bincount``, ``nonzero``) raises.

Copies *from* the host are not caught on ``meta``; those that the step made
were removed, each where it was:

- the epoch metrics' node and value counts (``new_tensor(int)`` each step):
  counted on the host from the shapes (``EpochMetrics``);
- the prior of the KL term (checked and copied each step): a buffer of the
  model on its device (``NRI.prior_probs``, ``DNRI.prior_probs``);
- the uniform prior (a ``torch.full`` each step): a Python number;
- the split uploaded to the device every epoch: once per run
  (``FixedSizeLoader.reordered``);
- PyG's ``to_dense_batch`` in the RI encoder, which copies its fill value
  from the host even when given the sizes: the padding of
  ``SetSequenceModel``.
"""
import pytest
import torch

from torch_nri._validation import value_checks
from torch_nri.datasets import ProximityDataset, SpringsDataset
from torch_nri.training import TrainConfig
from torch_nri.training.batching import make_loader
from torch_nri.training.builders import build_model
from torch_nri.training.loop import EpochMetrics, step_kwargs, training_step

HIDDEN = dict(encoder_hidden=16, decoder_hidden=16)

CASES = {
    "nri": {},
    "no factor graph": dict(factor=False),
    "checkpoint": dict(checkpoint=True, checkpoint_chunk_size=16),
    "checkpoint, automatic chunks, dropout": dict(checkpoint=True, dropout=0.1),
    "checkpoint, mean": dict(checkpoint=True, batch_norm=False),
    "skip_no_edges, hard samples": dict(skip_first=True, skip_no_edges=True, hard=True),
    "skip_no_edges, checkpoint": dict(skip_first=True, skip_no_edges=True, hard=True,
                                      checkpoint=True, checkpoint_chunk_size=16),
    "prior": dict(prior=[0.9, 0.1]),
    "symmetry prior": dict(symmetry_weight=10.0),
    "hard symmetry": dict(hard_symmetry=True),
    "cnn encoder": dict(encoder="cnn"),
    "rnn decoder": dict(decoder="rnn"),
    "rnn decoder, skip_no_edges": dict(decoder="rnn", skip_first=True, skip_no_edges=True,
                                       hard=True),
    "springs simulator decoder": dict(decoder="sim"),
    "ri + st (gru)": dict(encoder="ri", decoder="st", symmetry_weight=100.0),
    "ri + st (attention)": dict(encoder="ri", decoder="st", sequence_model="attention"),
    "ri neighbourhood (gru)": dict(encoder="ri", inter_scope="neighbourhood"),
    "ri neighbourhood (attention)": dict(encoder="ri", inter_scope="neighbourhood",
                                         sequence_model="attention"),
    "ri without intra": dict(encoder="ri", intra=False),
    "ri + st, checkpoint": dict(encoder="ri", decoder="st", checkpoint=True,
                                checkpoint_chunk_size=16),
    "st attention, checkpoint": dict(decoder="st", sequence_model="attention",
                                     checkpoint=True, checkpoint_chunk_size=16),
    "supervised": dict(model="supervised"),
    "supervised, checkpoint": dict(model="supervised", checkpoint=True),
    "true graph": dict(model="true-graph"),
    "full graph": dict(model="full-graph", num_edge_types=1),
    "dnri": dict(model="dnri", system="proximity", num_nodes=4, skip_first=True,
                 prior=[0.9, 0.1]),
    "dnri, rnn decoder": dict(model="dnri", system="proximity", num_nodes=4,
                              decoder="rnn"),
    "train segments": dict(train_segments=2),
    "dnri, train segments": dict(model="dnri", system="proximity", num_nodes=4,
                                 train_segments=2),
}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("data"))
    # Short trajectories (meta tensors are slow to dispatch): 15 steps, enough
    # for the CNN encoder's kernels; 3 systems in batches of 2, so the last
    # batch is smaller.
    springs = SpringsDataset(root, num_train=3, num_valid=2, num_test=2, length=1500,
                             test_length=1500, progress=False)
    proximity = ProximityDataset(root, num_nodes=4, num_train=3, num_valid=2, num_test=2,
                                 length=8, test_length=8, progress=False)
    return {"springs": springs, "proximity": proximity}


@pytest.mark.parametrize("case", CASES)
def test_a_training_step_reads_nothing_back(case, datasets):
    options = CASES[case]
    config = TrainConfig(device="cpu", prediction_steps=3, **HIDDEN, **options)
    train_set = datasets[config.system]
    model = build_model(config, train_set).to("meta")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loader = make_loader(train_set, 2, "meta", shuffle=True,
                         generator=torch.Generator().manual_seed(0))
    metrics = EpochMetrics(model.num_edge_types, torch.device("meta"))
    with value_checks(False):  # as in the loop: the data was checked where it entered
        for training in (True, False):  # a training and a validation step
            model.train(training)
            with torch.set_grad_enabled(training):
                for batch in loader:
                    assert batch.x.is_meta
                    kwargs = step_kwargs(model, config, train_set[0].x.size(1), training)
                    training_step(model, model, batch, kwargs, optimizer if training else None,
                                  scaler, config.precision, metrics)
    assert all(p.is_meta for p in model.parameters())
    assert metrics.counts[0] == 2 * 3 * train_set[0].num_nodes  # every system, both passes
