r"""The steps that ``--compile`` hands to :func:`torch.compile` trace as one
graph each, without a break (:func:`torch._dynamo.explain`, which generates
no code), and the last, smaller batch of an epoch is compiled once more
rather than dropped."""
import pytest
import torch
from torch._dynamo.testing import CompileCounter

from torch_nri._validation import value_checks
from torch_nri.datasets import SpringsDataset
from torch_nri.training import TrainConfig
from torch_nri.training import loop
from torch_nri.training.batching import make_loader
from torch_nri.training.builders import build_model

STEPS = {
    "default": {},
    "checkpointed": dict(checkpoint=True, checkpoint_chunk_size=16),
    "ri + st": dict(encoder="ri", decoder="st"),
    "ri + st, attention, checkpointed": dict(encoder="ri", decoder="st",
                                             sequence_model="attention", checkpoint=True,
                                             checkpoint_chunk_size=16),
}


@pytest.fixture(scope="module")
def springs(tmp_path_factory):
    # 5 systems in batches of 2: the last batch holds one.
    return SpringsDataset(str(tmp_path_factory.mktemp("data")), num_train=5, num_valid=2,
                          num_test=2, length=1500, test_length=1500, progress=False)


def model_and_step(springs, **options):
    config = TrainConfig(device="cpu", encoder_hidden=16, decoder_hidden=16,
                         prediction_steps=3, **options)
    model = build_model(config, springs).train()
    kwargs = model.training_kwargs(springs[0].x.size(1), config.prediction_steps, None)

    def step(forward, batch):  # what the loop compiles (forward), and the loss
        out = forward(batch.x, batch.edge_index, batch=batch.batch, sizes=batch.sizes,
                      **kwargs)
        return out, model.objective(out).loss

    return model, step


@pytest.mark.parametrize("name", STEPS)
def test_the_compiled_steps_have_no_graph_break(name, springs):
    model, step = model_and_step(springs, **STEPS[name])
    batch = next(iter(make_loader(springs, 2)))
    with value_checks(False):  # as in the loop
        explanation = torch._dynamo.explain(lambda b: step(model, b))(batch)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


def test_the_last_smaller_batch_compiles_once_more(springs):
    model, step = model_and_step(springs)
    counter = CompileCounter()
    compiled = torch.compile(model, backend=counter, dynamic=False)
    sizes = []
    with value_checks(False):
        for batch in make_loader(springs, 2):
            sizes.append(batch.num_graphs)
            torch.manual_seed(0)
            expected, expected_loss = step(model, batch)
            torch.manual_seed(0)
            out, loss = step(compiled, batch)
            assert torch.allclose(out.predictions, expected.predictions, atol=1e-5)
            assert torch.allclose(loss, expected_loss, rtol=1e-5)
    assert sizes == [2, 2, 1]  # no system dropped
    assert counter.frame_count == 2  # the full batches' graph, then the last one's


def test_cuda_graphs_only_where_every_batch_has_the_same_shapes(monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "compile", lambda module, **kw: calls.append(kw) or module)
    module = torch.nn.Linear(2, 2)
    assert loop.compile_step(module, cuda_graphs=True) is module
    loop.compile_step(module, cuda_graphs=False)
    assert calls == [dict(mode="reduce-overhead", dynamic=False), {}]
