r"""A training step under bf16 autocast on the CPU (``--precision bf16``)
against the same step in float32, for every option, checkpointing
included: edge probabilities within 0.05, predictions within a quarter of
the largest change of state between two steps, the NLL within 2 % and the
gradient within a cosine similarity of 0.99 of float32's. (Measured on a
Zen 4, hidden 32, 4 systems: at most 0.016, 0.05 of that change, 0.4 %
and 0.99996; statistics or sums taken in bf16 would break them.) The chunked batch statistics
once crashed under bf16 autocast, where a bf16 mean met float32 running
statistics."""
import pytest
import torch
import torch.nn.functional as F

from torch_nri._validation import value_checks
from torch_nri.datasets import SpringsDataset
from torch_nri.training import TrainConfig
from torch_nri.training.batching import make_loader
from torch_nri.training.builders import build_model

OPTIONS = {
    "nri": {},
    "checkpoint": dict(checkpoint=True, checkpoint_chunk_size=16),
    "checkpoint, automatic chunks": dict(checkpoint=True),
    "skip_no_edges": dict(skip_first=True, skip_no_edges=True, hard=True),
    "prior and symmetry": dict(prior=[0.9, 0.1], symmetry_weight=10.0),
    "cnn encoder": dict(encoder="cnn"),
    "rnn decoder": dict(decoder="rnn"),
    "ri + st": dict(encoder="ri", decoder="st"),
    "ri + st, attention, checkpoint": dict(encoder="ri", decoder="st",
                                           sequence_model="attention", checkpoint=True,
                                           checkpoint_chunk_size=16),
}


@pytest.fixture(scope="module")
def springs(tmp_path_factory):
    return SpringsDataset(str(tmp_path_factory.mktemp("data")), num_train=4, num_valid=2,
                          num_test=2, length=1500, test_length=1500, progress=False)


@pytest.mark.parametrize("name", OPTIONS)
def test_bf16_autocast_step_is_the_float32_step_within_tolerance(name, springs):
    config = TrainConfig(device="cpu", encoder_hidden=32, decoder_hidden=32,
                         prediction_steps=3, **OPTIONS[name])
    model = build_model(config, springs).train()
    kwargs = model.training_kwargs(springs[0].x.size(1), 3, None)
    batch = next(iter(make_loader(springs, 4)))
    results = []
    for dtype in (None, torch.bfloat16):
        torch.manual_seed(0)  # the same Gumbel noise
        with value_checks(False), torch.autocast("cpu", dtype=torch.bfloat16,
                                                 enabled=dtype is not None):
            out = model(batch.x, batch.edge_index, batch=batch.batch, sizes=batch.sizes,
                        **kwargs)
        terms = model.objective(out)
        grads = torch.autograd.grad(terms.loss, list(model.parameters()), allow_unused=True)
        results.append((out, terms, torch.cat([g.flatten() for g in grads if g is not None])))
    (out, terms, grad), (out16, terms16, grad16) = results
    assert out16.predictions.dtype == torch.float32  # the loss is taken in float32
    assert (out16.edge_probs - out.edge_probs).abs().max() < 0.05
    step = (batch.x[:, 1:] - batch.x[:, :-1]).abs().max()
    assert (out16.predictions - out.predictions).abs().max() < step / 4
    assert terms16.nll.item() == pytest.approx(terms.nll.item(), rel=0.02)
    assert F.cosine_similarity(grad16, grad, dim=0) > 0.99
