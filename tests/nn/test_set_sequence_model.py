import pytest
import torch

from torch_nri.nn import SetSequenceModel


def groups_of(sizes):
    return torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))


def torch_gru(model):
    """PyTorch's GRU with the set model's parameters (it runs them step by
    step with torch.gru_cell, which torch.compile traces)."""
    gru = torch.nn.GRU(model.channels, model.channels, batch_first=True)
    gru.load_state_dict(model.model.state_dict())
    return gru


def test_gru_runs_each_group_in_input_order_and_maps_back():
    model = SetSequenceModel(6, "gru").eval()
    group = torch.tensor([2, 0, 2, 1, 0, 2])  # unsorted, group sizes 2, 1, 3
    x = torch.randn(6, 6)
    out = model(x, group, num_groups=4)  # group 3 is empty
    for g in range(3):
        members = (group == g).nonzero().view(-1)
        expected, _ = torch_gru(model)(x[members].unsqueeze(0))
        assert torch.allclose(out[members], expected[0], atol=1e-6)


def test_gru_with_a_fixed_permutation_maps_back_to_the_input_order():
    model = SetSequenceModel(6, "gru").eval()
    group, x = groups_of([4, 3]), torch.randn(7, 6)
    perm = torch.tensor([2, 0, 3, 1, 6, 4, 5])  # the order pi the GRU reads
    out = model(x[perm], group[perm])
    # Reading the items in the permuted order and mapping back: item perm[a]
    # gets the a-th output.
    for g in range(2):
        members = (group[perm] == g).nonzero().view(-1)
        expected, _ = torch_gru(model)(x[perm][members].unsqueeze(0))
        assert torch.allclose(out[members], expected[0], atol=1e-6)
    # The GRU is order dependent, so the outputs differ from the input order's.
    assert not torch.allclose(out.sort(0).values, model(x, group).sort(0).values)


def test_position_sets_the_order_within_each_group():
    model = SetSequenceModel(6, "gru").eval()
    group, x = groups_of([4, 3]), torch.randn(7, 6)
    perm = torch.tensor([2, 0, 3, 1, 6, 4, 5])
    # Items given in the permuted order but positioned by their original
    # index are read in the original order.
    assert torch.allclose(model(x[perm], group[perm], position=perm), model(x, group)[perm],
                          atol=1e-6)
    # Training shuffles whatever the positions.
    torch.manual_seed(0)
    assert not torch.allclose(model.train()(x, group, position=torch.arange(7)),
                              model.eval()(x, group))


def test_attention_is_exactly_permutation_equivariant():
    model = SetSequenceModel(8, "attention", num_heads=2).eval()
    group, x = groups_of([5, 1, 3]), torch.randn(9, 8)
    perm = torch.randperm(9)
    assert torch.allclose(model(x[perm], group[perm]), model(x, group)[perm], atol=1e-5)
    # Items only attend within their group.
    changed = x.clone()
    changed[5:] += 1.0
    assert torch.allclose(model(changed, group)[:5], model(x, group)[:5], atol=1e-6)


def test_shuffles_in_training_only():
    model = SetSequenceModel(4, "gru")
    group, x = groups_of([6]), torch.randn(6, 4)
    torch.manual_seed(0)
    a = model.train()(x, group)
    b = model.train()(x, group)
    assert not torch.allclose(a, b)
    assert torch.equal(model.eval()(x, group), model.eval()(x, group))
    assert model(x[:0], group[:0]).shape == (0, 4)


def test_errors():
    with pytest.raises(ValueError, match="'kind' must be"):
        SetSequenceModel(4, "lstm")
    with pytest.raises(ValueError, match="'num_heads' \\(3\\) must divide"):
        SetSequenceModel(4, "attention", num_heads=3)
    with pytest.raises(ValueError, match="'group' must have shape"):
        SetSequenceModel(4)(torch.randn(3, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"'position' must have shape \[3\], got \(2,\)"):
        SetSequenceModel(4)(torch.randn(3, 4), torch.zeros(3, dtype=torch.long),
                            position=torch.zeros(2, dtype=torch.long))
