import itertools
import math

import pytest
import torch

from torch_nri.graphs import fully_connected_edge_index
from torch_nri.metrics import (accuracy_from_confusion, align_steps, asymmetry_rate,
                               best_type_permutation, edge_accuracy, edge_auroc, edge_confusion,
                               edge_f1, edge_presence_scores, mse_per_step, roc_curve,
                               step_confusion)


def test_accuracy_is_invariant_to_swapped_types():
    true = torch.randint(0, 2, (100,))
    swapped = 1 - true
    assert edge_accuracy(swapped, true) == 1.0
    assert edge_accuracy(swapped, true, permutation_invariant=False) == 0.0


def test_accuracy_accepts_logits_and_matches_brute_force():
    true = torch.randint(0, 3, (200,))
    logits = torch.randn(200, 3)
    pred = logits.argmax(-1)
    brute = max((torch.tensor(p)[pred] == true).float().mean().item()
                for p in itertools.permutations(range(3)))
    assert edge_accuracy(logits, true) == pytest.approx(brute)


def test_no_edge_type_stays_fixed():
    true = torch.tensor([0, 0, 0, 1, 1, 2])
    pred = torch.tensor([0, 0, 0, 2, 2, 1])  # types 1 and 2 swapped: fine
    assert edge_accuracy(pred, true, 3, no_edge_type=0) == 1.0
    pred = torch.tensor([1, 1, 1, 0, 0, 2])  # "no edge" relabelled: not forgiven
    assert edge_accuracy(pred, true, 3) == 1.0
    assert edge_accuracy(pred, true, 3, no_edge_type=0) == pytest.approx(1 / 6)
    perm = best_type_permutation(edge_confusion(pred, true, 3), no_edge_type=0)
    assert perm[0] == 0


def test_confusion_errors():
    with pytest.raises(ValueError, match=r"'edge_type' holds types in \[0, 3\]"):
        edge_confusion(torch.tensor([0, 1]), torch.tensor([0, 3]), 2)
    with pytest.raises(ValueError, match="same edges"):
        edge_confusion(torch.tensor([0, 1, 1]), torch.tensor([0, 1]), 2)


def test_mse_per_step():
    predictions, targets = torch.randn(5, 20, 4), torch.randn(5, 20, 4)
    mse = mse_per_step(predictions, targets)
    assert mse.shape == (20,)
    assert torch.allclose(mse[7], ((predictions[:, 7] - targets[:, 7]) ** 2).mean())
    with pytest.raises(ValueError, match="num_steps"):
        mse_per_step(predictions, targets[:, :10])


def test_auroc_matches_pairwise_definition():
    scores = torch.tensor([0.9, 0.8, 0.8, 0.3, 0.1, 0.8, 0.2])
    present = torch.tensor([1, 1, 0, 1, 0, 1, 0])
    pos, neg = scores[present.bool()], scores[~present.bool()]
    pairs = [(p > n) + 0.5 * (p == n) for p in pos for n in neg]
    assert edge_auroc(scores, present) == pytest.approx(float(sum(pairs)) / len(pairs))
    assert edge_auroc(present.float(), present) == 1.0
    with pytest.raises(ValueError, match="both edges and non-edges"):
        edge_auroc(scores, torch.ones(7))


def test_roc_curve_is_the_curve_under_auroc():
    scores = torch.tensor([0.9, 0.8, 0.8, 0.3, 0.1, 0.8, 0.2])
    present = torch.tensor([1, 1, 0, 1, 0, 1, 0])
    fpr, tpr = roc_curve(scores, present)
    # Thresholds 0.9, 0.8 (three tied: one diagonal step), 0.3, 0.2, 0.1.
    assert fpr.tolist() == [0, 0, 1 / 3, 1 / 3, 2 / 3, 1]
    assert tpr.tolist() == [0, 1 / 4, 3 / 4, 1, 1, 1]
    area = float(((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2).sum())
    assert area == pytest.approx(edge_auroc(scores, present))
    generator = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 20, (500,), generator=generator).float()
    present = torch.rand(500, generator=generator) < 0.3
    fpr, tpr = roc_curve(scores, present)
    area = float(((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2).sum())
    assert area == pytest.approx(edge_auroc(scores, present)) and fpr.numel() == 21
    with pytest.raises(ValueError, match="both edges and non-edges"):
        roc_curve(scores, torch.ones(500))


def test_asymmetry_rate_counts_pairs_that_disagree():
    edge_index = fully_connected_edge_index(3)  # (0,1) (0,2) (1,0) (1,2) (2,0) (2,1)
    types = torch.tensor([1, 0, 1, 0, 1, 0])  # only 0-2 disagrees: 0->2 is 0, 2->0 is 1
    assert asymmetry_rate(types, edge_index) == pytest.approx(2 / 6)
    logits = torch.nn.functional.one_hot(types, 2).float()
    assert asymmetry_rate(logits, edge_index) == pytest.approx(2 / 6)
    assert asymmetry_rate(types[:1], edge_index[:, :1], 3) != asymmetry_rate(types, edge_index)
    with pytest.raises(ValueError, match="'edge_types' must have shape"):
        asymmetry_rate(types[:4], edge_index)


def test_edge_presence_scores_use_the_type_standing_for_no_edge():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert torch.allclose(edge_presence_scores(probs), 1 - probs[:, 0])
    swapped = torch.tensor([1, 0])  # predicted 1 is true 0 ("no edge")
    assert torch.allclose(edge_presence_scores(probs, swapped), 1 - probs[:, 1])
    with pytest.raises(ValueError, match="map exactly one type to no_edge_type=0"):
        edge_presence_scores(probs, torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="must have shape"):
        edge_presence_scores(probs[:, 0])


def test_asymmetry_of_a_split_sums_counts_over_batches():
    # A batch without reciprocal pairs (an asymmetric kNN graph) has no rate,
    # but it does not make the split's NaN: the counts add up.
    import math

    from torch_nri.metrics import asymmetry_counts, asymmetry_rate

    pairs = torch.tensor([[0, 1, 1], [1, 0, 2]])
    lone = torch.tensor([[0], [1]])
    assert math.isnan(asymmetry_rate(torch.tensor([1]), lone))
    counts = [asymmetry_counts(torch.tensor([0, 1, 1]), pairs), asymmetry_counts(
        torch.tensor([1]), lone)]
    assert counts == [(2, 2), (0, 0)]
    assert asymmetry_rate(torch.tensor([0, 1, 1]), pairs) == 1.0


def test_edge_accuracy_refuses_nan_logits_and_float_labels():
    labels = torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match=r"'edge_pred' contains 8 non-finite"):
        edge_accuracy(torch.full((4, 2), float("nan")), labels)
    with pytest.raises(ValueError, match=r"'edge_type' must hold integer edge types"):
        edge_accuracy(torch.randn(4, 2), labels.float())

def test_per_step_relations_are_scored_at_every_step():
    truth = torch.tensor([[0, 1, 1, 0], [1, 1, 0, 0]])  # [E=2, T=4]
    per_step = torch.tensor([[1, 0, 0], [0, 0, 1]])  # types swapped, first 3 steps
    assert edge_accuracy(per_step, truth, 2) == 1.0
    assert edge_f1(per_step, truth, 2) == 1.0
    assert edge_f1(per_step, truth, 2, permutation_invariant=False) == 0.0
    # A static graph is scored at every true step: edge 1 said "edge" at all 4.
    static = torch.tensor([0, 1])
    assert edge_accuracy(static, truth, 2, permutation_invariant=False) == 4 / 8
    assert edge_f1(static, truth, 2, permutation_invariant=False) == pytest.approx(
        2 * 2 / (2 * 2 + 2 + 2))
    logits = torch.randn(2, 3, 2)
    assert edge_accuracy(logits, truth, 2) == edge_accuracy(logits.argmax(-1), truth, 2)
    probs, labels = align_steps(logits.softmax(-1), truth, pred_dims=1)
    assert probs.shape == (6, 2) and torch.equal(labels, truth[:, :3].reshape(-1))
    with pytest.raises(ValueError, match="same edges"):
        edge_accuracy(torch.zeros(2, 5, dtype=torch.long), truth, 2)


def test_per_step_graphs_are_scored_at_each_step_against_static_relations():
    truth = torch.tensor([0, 1])  # static [E=2]
    per_step = torch.tensor([[0, 0, 0], [1, 1, 0]])  # [E=2, T'=3]: one step wrong
    logits = torch.nn.functional.one_hot(per_step, 2).float()  # [E, T', K]
    assert edge_accuracy(logits, truth, 2, permutation_invariant=False) == 5 / 6
    # Integer [E, 2] could be integer logits [E, K]: no pairing with [E].
    with pytest.raises(ValueError, match="same edges"):
        edge_accuracy(per_step[:, :2], truth, 2)
    probs, labels = align_steps(torch.rand(2, 3, 2), truth, pred_dims=1)
    assert probs.shape == (6, 2) and labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_f1_of_no_edges_is_undefined():
    assert math.isnan(edge_f1(torch.tensor([0, 0]), torch.tensor([0, 0]), 2,
                              permutation_invariant=False))


def test_confusion_per_step_sums_to_the_confusion():
    truth = torch.randint(0, 3, (7, 5))
    logits = torch.randn(7, 4, 3)
    steps = step_confusion(logits, truth, 3)
    assert steps.shape == (4, 3, 3)
    assert torch.equal(steps.sum(0), edge_confusion(logits, truth, 3))
    assert torch.equal(steps[2], edge_confusion(logits[:, 2], truth[:, 2], 3))
    perm = best_type_permutation(steps.sum(0))
    assert accuracy_from_confusion(steps[2], permutation=perm) == edge_accuracy(
        perm[logits[:, 2].argmax(-1)], truth[:, 2], 3, permutation_invariant=False)
