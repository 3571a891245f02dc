r"""Evaluation metrics of NRI: edge accuracy, F1, per-step MSE and AUROC;
for relations that change over time (dNRI), the edge metrics are scored
at every step (:func:`align_steps`).

Edge types learned without labels are only defined up to a permutation (the
model may call "spring" type 0 and "no spring" type 1), so edge accuracy
takes the best one-to-one matching of predicted to true types, found with
:func:`scipy.optimize.linear_sum_assignment` on the confusion matrix. The
original code compared labels directly and so reported 1 - accuracy when the
types came out swapped.
"""
from typing import Optional, Tuple

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.stats import mannwhitneyu
from torch import Tensor

from torch_nri._validation import check_finite, check_int, values_checked
from torch_nri.graphs import reverse_edge_index


def _as_labels(edge_pred: Tensor, name: str = "edge_pred") -> Tensor:
    # Logits, probabilities or samples [E, (T,) K] -> type indices [E, (T)];
    # types [E, (T)] must be integers (a float would be truncated into a type).
    if not isinstance(edge_pred, Tensor):
        raise ValueError(f"'{name}' must be a tensor, got {type(edge_pred).__name__}")
    if edge_pred.is_floating_point() and edge_pred.dim() > 1:
        check_finite(edge_pred, name)  # argmax would pick a NaN as the top type
        return edge_pred.argmax(dim=-1)
    return _check_types(edge_pred, name)


def _check_types(edge_type: Tensor, name: str) -> Tensor:
    if not isinstance(edge_type, Tensor):
        raise ValueError(f"'{name}' must be a tensor, got {type(edge_type).__name__}")
    if edge_type.dim() not in (1, 2):
        raise ValueError(f"'{name}' must have shape [num_edges] or, per step, [num_edges, "
                         f"num_steps] (with num_edge_types last for predictions), got "
                         f"{tuple(edge_type.shape)}")
    if edge_type.is_floating_point() or edge_type.is_complex():
        raise ValueError(f"'{name}' must hold integer edge types, got {edge_type.dtype}")
    return edge_type


def align_steps(edge_pred: Tensor, edge_type: Tensor,
                pred_dims: int = 0) -> Tuple[Tensor, Tensor]:
    r"""Pairs predictions with true types edge by edge and, for relations
    that change over time, step by step: returns both flattened,
    ``[M, *pred]`` and ``[M]``.

    ``edge_type`` is ``[E]``, or ``[E, T]`` per step. A static prediction
    ``[E, *pred]`` is scored at every true step; a per-step prediction
    ``[E, T', *pred]`` on the first :math:`T' \leq T` steps, and, where
    ``pred_dims`` tells its steps from its types, at each of its steps
    against static relations ``[E]`` (dNRI on a static system).

    Args:
        edge_pred (torch.Tensor): Predictions ``[E, (T',) *pred]``.
        edge_type (torch.Tensor): True types ``[E]`` or ``[E, T]``.
        pred_dims (int, optional): The trailing dimensions of a prediction
            (1 for probabilities ``[..., K]``). (default: :obj:`0`)
    """
    steps = edge_pred.dim() - 1 - pred_dims  # 0 or 1 step dimensions
    trailing = edge_pred.shape[edge_pred.dim() - pred_dims:]
    if edge_type.dim() == 2 and steps == 0:
        edge_pred = edge_pred.unsqueeze(1).expand(-1, edge_type.size(1), *trailing)
    elif edge_type.dim() == 2 and steps == 1 and edge_pred.size(1) <= edge_type.size(1):
        edge_type = edge_type[:, :edge_pred.size(1)]
    elif edge_type.dim() == 1 and steps == 1 and pred_dims:
        edge_type = edge_type.unsqueeze(1).expand(-1, edge_pred.size(1))
    if edge_pred.shape[:edge_pred.dim() - pred_dims] != edge_type.shape:
        raise ValueError(f"'edge_pred' and 'edge_type' must describe the same edges (and "
                         f"steps), got {tuple(edge_pred.shape)} and {tuple(edge_type.shape)}")
    return edge_pred.reshape(-1, *trailing), edge_type.reshape(-1)


def edge_confusion(edge_pred: Tensor, edge_type: Tensor, num_edge_types: int) -> Tensor:
    r"""Confusion matrix ``C[true, predicted]`` of shape ``[K, K]``, over
    the edges and, for relations per step, the steps (:func:`align_steps`).

    Args:
        edge_pred (torch.Tensor): Predicted types ``[E]`` or ``[E, T']``
            (integers), or logits, probabilities or samples ``[E, K]`` or
            ``[E, T', K]``.
        edge_type (torch.Tensor): True types ``[E]``, or ``[E, T]`` per step.
        num_edge_types (int): Number of types :math:`K`.
    """
    check_int(num_edge_types, "num_edge_types", 1)
    truth = _check_types(edge_type, "edge_type")
    if isinstance(edge_pred, Tensor) and edge_pred.is_floating_point() and \
            edge_pred.dim() == 3 and truth.dim() == 1:
        # Logits [E, T', K] are per step without doubt: the one true graph
        # holds at each step (dNRI on a static system). Integer types
        # [E, T'] could be integer logits [E, K]: they must match the truth.
        truth = truth.unsqueeze(1).expand(-1, edge_pred.size(1))
    pred, true = align_steps(_as_labels(edge_pred), truth)
    pred, true = pred.long(), true.long()
    for name, labels in (("edge_pred", pred), ("edge_type", true)):
        if not values_checked():
            break
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_edge_types):
            raise ValueError(f"'{name}' holds types in [{int(labels.min())}, "
                             f"{int(labels.max())}], out of range for "
                             f"num_edge_types={num_edge_types}")
    return count_values(true * num_edge_types + pred, num_edge_types ** 2).view(
        num_edge_types, num_edge_types)


def count_values(index: Tensor, size: int) -> Tensor:
    r"""How often each value of ``index`` occurs, ``[size]`` (as
    :func:`torch.bincount` with ``minlength=size``), as a sum of ones into a
    tensor of fixed size: no value is read back to the host (``bincount``
    reads the largest index to size its result), so the training loop adds
    up its epoch's confusion matrices on the device. Values of ``index``
    must lie in ``[0, size)``."""
    return torch.zeros(size, dtype=torch.long, device=index.device).scatter_add_(
        0, index, torch.ones_like(index))


def best_type_permutation(confusion: Tensor, no_edge_type: Optional[int] = None) -> Tensor:
    r"""The matching of predicted to true edge types that maximises the number
    of correct edges: ``perm[predicted] = true``.

    Args:
        confusion (torch.Tensor): Confusion matrix ``[K, K]`` from
            :func:`edge_confusion`.
        no_edge_type (int, optional): A type that is hard-coded as "no edge"
            and so stays fixed. (default: :obj:`None`)
    """
    num_types = confusion.size(0)
    free = [k for k in range(num_types) if k != no_edge_type]
    gain = confusion.cpu().numpy()[np.ix_(free, free)]  # [true, predicted]
    true_idx, pred_idx = linear_sum_assignment(gain, maximize=True)
    perm = torch.arange(num_types)
    for t, p in zip(true_idx, pred_idx):
        perm[free[p]] = free[t]
    return perm


def edge_accuracy(edge_pred: Tensor, edge_type: Tensor, num_edge_types: Optional[int] = None,
                  permutation_invariant: bool = True,
                  no_edge_type: Optional[int] = None) -> float:
    r"""Fraction of edges whose type is recovered.

    Args:
        edge_pred (torch.Tensor): Predicted types ``[E]``, or logits,
            probabilities or samples ``[E, K]``.
        edge_type (torch.Tensor): True types ``[E]``.
        num_edge_types (int, optional): Number of types :math:`K`.
            (default: inferred from ``edge_pred`` or the labels)
        permutation_invariant (bool, optional): If set to :obj:`True`,
            scores the best matching of predicted to true types, as is right
            for unsupervised types. (default: :obj:`True`)
        no_edge_type (int, optional): With ``permutation_invariant``, a type
            hard-coded as "no edge" that is not permuted (e.g. 0 for a
            decoder with ``skip_first=True``). (default: :obj:`None`)
    """
    if num_edge_types is None:
        labels = [_as_labels(edge_pred), _check_types(edge_type, "edge_type")]
        num_edge_types = (edge_pred.size(-1) if edge_pred.is_floating_point()
                          and edge_pred.dim() > 1 else
                          max((int(t.max()) for t in labels if t.numel()), default=0) + 1)
    confusion = edge_confusion(edge_pred, edge_type, num_edge_types)
    return accuracy_from_confusion(confusion, permutation_invariant, no_edge_type)


def step_confusion(edge_pred: Tensor, edge_type: Tensor, num_edge_types: int) -> Tensor:
    r"""Confusion matrices ``C[t, true, predicted]`` of each step,
    ``[T', K, K]``, for relations that change over time (``edge_type``
    ``[E, T]``), paired as by :func:`align_steps`: their sum over steps is
    :func:`edge_confusion`."""
    if edge_type.dim() != 2:
        raise ValueError(f"'edge_type' must hold relations per step [num_edges, num_steps], "
                         f"got shape {tuple(edge_type.shape)}")
    pred, true = align_steps(_as_labels(edge_pred), edge_type)
    num_steps = pred.numel() // max(edge_type.size(0), 1)
    # align_steps flattens [E, T'] row by row: entry m is of step m mod T'.
    step = torch.arange(pred.numel(), device=pred.device) % max(num_steps, 1)
    counts = count_values((step * num_edge_types + true.long()) * num_edge_types + pred.long(),
                         num_steps * num_edge_types ** 2)
    return counts.view(num_steps, num_edge_types, num_edge_types)


def accuracy_from_confusion(confusion: Tensor, permutation_invariant: bool = True,
                            no_edge_type: Optional[int] = None,
                            permutation: Optional[Tensor] = None) -> float:
    r"""Edge accuracy from a confusion matrix ``C[true, predicted]``, e.g. one
    summed over the batches of a test set; the arguments are those of
    :func:`edge_accuracy`. ``permutation`` (``perm[predicted] = true``)
    imposes a matching of the types, e.g. the one of all steps for the
    confusion matrix of one step. (default: the best for ``confusion``)"""
    confusion = confusion.cpu()
    num_edge_types = confusion.size(0)
    total = int(confusion.sum())
    if total == 0:
        raise ValueError("edge accuracy of an empty set of edges is undefined")
    if not permutation_invariant:
        return float(confusion.diag().sum()) / total
    perm = (best_type_permutation(confusion, no_edge_type) if permutation is None
            else permutation.cpu())
    # Column p of the confusion matrix counts as correct in row perm[p].
    correct = confusion[perm, torch.arange(num_edge_types)].sum()
    return float(correct) / total


def f1_from_confusion(confusion: Tensor, permutation_invariant: bool = True,
                      no_edge_type: Optional[int] = None,
                      permutation: Optional[Tensor] = None) -> float:
    r"""The F1 score of "edge vs no edge" from a confusion matrix
    ``C[true, predicted]``, where true type 0 means no edge and a predicted
    type is matched to a true one as by the accuracy
    (:func:`best_type_permutation`, or as named without
    ``permutation_invariant``):

    .. math::
        F_1 = \frac{2\,TP}{2\,TP + FP + FN}

    NaN where there is neither a true nor a predicted edge. ``permutation``
    imposes a matching, as in :func:`accuracy_from_confusion`."""
    confusion = confusion.cpu()
    num_edge_types = confusion.size(0)
    if not permutation_invariant:
        perm = torch.arange(num_edge_types)
    else:
        perm = (best_type_permutation(confusion, no_edge_type) if permutation is None
                else permutation.cpu())
    said_edge = perm != 0  # predicted type p stands for true type perm[p]
    counts = confusion.double()
    true_positive = counts[1:][:, said_edge].sum()
    false_positive = counts[0, said_edge].sum()
    false_negative = counts[1:][:, ~said_edge].sum()
    denominator = 2 * true_positive + false_positive + false_negative
    return float(2 * true_positive / denominator) if denominator else float("nan")


def edge_f1(edge_pred: Tensor, edge_type: Tensor, num_edge_types: Optional[int] = None,
            permutation_invariant: bool = True, no_edge_type: Optional[int] = None) -> float:
    r"""The F1 score of "edge vs no edge" (true type 0 is no edge), up to
    the permutation of types that the accuracy takes
    (:func:`f1_from_confusion`); per step for relations that change over
    time. The arguments are those of :func:`edge_accuracy`."""
    if num_edge_types is None:
        num_edge_types = (edge_pred.size(-1) if edge_pred.is_floating_point()
                          and edge_pred.dim() > 1 else
                          int(max(edge_pred.max(), edge_type.max())) + 1)
    confusion = edge_confusion(edge_pred, edge_type, num_edge_types)
    return f1_from_confusion(confusion, permutation_invariant, no_edge_type)


def mse_per_step(predictions: Tensor, targets: Tensor) -> Tensor:
    r"""Mean squared error at each predicted step, averaged over nodes and
    features: ``[N, T, F] -> [T]`` (the paper's Table 2 reports steps
    1, 10 and 20 of this curve)."""
    if predictions.shape != targets.shape or predictions.dim() != 3:
        raise ValueError(f"'predictions' and 'targets' must both have shape "
                         f"[num_nodes, num_steps, num_features], got "
                         f"{tuple(predictions.shape)} and {tuple(targets.shape)}")
    return (predictions - targets).pow(2).mean(dim=(0, 2))


def edge_presence_scores(edge_probs: Tensor, permutation: Optional[Tensor] = None,
                         no_edge_type: int = 0) -> Tensor:
    r"""The probability that each edge exists, for :func:`edge_auroc`:
    :math:`1 - q(z_{ij} = k_0 | \mathbf{x})`, where :math:`k_0` is the
    predicted type that stands for the true type ``no_edge_type`` under the
    type matching ``permutation`` (``perm[predicted] = true``, as returned
    by :func:`best_type_permutation` and used by the accuracy). Without a
    permutation, the types are taken as named (a model trained on the
    relations). A model whose free types came out swapped thus scores as
    the unswapped one.

    Args:
        edge_probs (torch.Tensor): Edge type probabilities ``[E, K]``.
        permutation (torch.Tensor, optional): ``[K]``. (default: identity)
        no_edge_type (int, optional): The true type meaning "no edge".
            (default: :obj:`0`)
    """
    if edge_probs.dim() != 2:
        raise ValueError(f"'edge_probs' must have shape [num_edges, num_edge_types], got "
                         f"{tuple(edge_probs.shape)}")
    predicted = no_edge_type
    if permutation is not None:
        matches = (permutation == no_edge_type).nonzero().flatten()
        if matches.numel() != 1:
            raise ValueError(f"'permutation' must map exactly one type to "
                             f"no_edge_type={no_edge_type}, got {permutation.tolist()}")
        predicted = int(matches[0])
    return 1 - edge_probs[:, predicted]


def edge_auroc(edge_scores: Tensor, edge_present: Tensor) -> float:
    r"""Area under the ROC curve of "edge vs no edge": the probability that a
    true edge scores higher than a non-edge (ties count one half), computed
    as the Mann-Whitney U statistic.

    Args:
        edge_scores (torch.Tensor): A score per edge ``[E]``, e.g.
            :func:`edge_presence_scores`.
        edge_present (torch.Tensor): Whether each edge exists ``[E]``
            (bool, or the true type, nonzero meaning an edge).
    """
    scores = edge_scores.detach().reshape(-1).double().cpu().numpy()
    present = edge_present.reshape(-1).bool().cpu().numpy()
    if scores.shape != present.shape:
        raise ValueError(f"'edge_scores' and 'edge_present' must describe the same edges, "
                         f"got {tuple(edge_scores.shape)} and {tuple(edge_present.shape)}")
    if present.all() or not present.any():
        raise ValueError("AUROC needs both edges and non-edges in 'edge_present'")
    u = mannwhitneyu(scores[present], scores[~present]).statistic
    return float(u / (present.sum() * (~present).sum()))


def roc_curve(edge_scores: Tensor, edge_present: Tensor) -> Tuple[Tensor, Tensor]:
    r"""The ROC curve of "edge vs no edge" whose area is :func:`edge_auroc`:
    the false and true positive rates of every threshold at which the
    decision changes (each distinct score, highest first), from
    :math:`(0, 0)` to :math:`(1, 1)`. Tied scores make one diagonal step,
    so that the trapezoidal area under the curve counts ties one half, as
    :func:`edge_auroc` does.

    Args:
        edge_scores (torch.Tensor): A score per edge ``[E]``, e.g.
            :func:`edge_presence_scores`.
        edge_present (torch.Tensor): Whether each edge exists ``[E]``
            (bool, or the true type, nonzero meaning an edge).

    Returns:
        (torch.Tensor, torch.Tensor): The false and the true positive rates,
        ``[P]`` each (float64, :math:`P \leq E + 1`).
    """
    scores = edge_scores.detach().reshape(-1).double().cpu()
    present = edge_present.reshape(-1).bool().cpu()
    if scores.shape != present.shape:
        raise ValueError(f"'edge_scores' and 'edge_present' must describe the same edges, "
                         f"got {tuple(edge_scores.shape)} and {tuple(edge_present.shape)}")
    if present.all() or not present.any():
        raise ValueError("a ROC curve needs both edges and non-edges in 'edge_present'")
    scores, order = torch.sort(scores, descending=True, stable=True)
    present = present[order].double()
    # The last position of each run of equal scores: a threshold.
    last = torch.cat([(scores[1:] != scores[:-1]).nonzero().flatten(),
                      torch.tensor([scores.numel() - 1])])
    true_positives, false_positives = present.cumsum(0)[last], (1 - present).cumsum(0)[last]
    zero = torch.zeros(1, dtype=torch.float64)
    return (torch.cat([zero, false_positives / false_positives[-1]]),
            torch.cat([zero, true_positives / true_positives[-1]]))


def asymmetry_counts(edge_types: Tensor, edge_index: Tensor,
                     num_nodes: Optional[int] = None) -> Tuple[int, int]:
    r"""The counts behind :func:`asymmetry_rate`: the candidate edges whose
    reverse is a candidate edge of another predicted type, and those whose
    reverse is a candidate edge at all. Summed over batches, their ratio is
    the rate of a whole split, defined as long as some batch has a pair."""
    edge_types = _as_labels(edge_types, "edge_types")
    if edge_types.size(0) != edge_index.size(1):
        raise ValueError(f"'edge_types' must have shape [num_edges={edge_index.size(1)}] or "
                         f"[num_edges, num_edge_types] (per step: [num_edges, num_steps] or "
                         f"[num_edges, num_steps, num_edge_types]), got "
                         f"{tuple(edge_types.shape)}")
    reverse = reverse_edge_index(edge_index, num_nodes)
    paired = reverse >= 0
    # Per step, each step of a pair counts: the fraction over edges and steps.
    asymmetric = edge_types[paired] != edge_types[reverse[paired]]
    return int(asymmetric.sum()), asymmetric.numel()


def asymmetry_rate(edge_types: Tensor, edge_index: Tensor,
                   num_nodes: Optional[int] = None) -> float:
    r"""The rate of asymmetry of NRI-MPM (Chen et al., 2021, Fig. 9): the
    fraction of candidate edges :math:`i \rightarrow j` whose reverse
    :math:`j \rightarrow i` is a candidate edge of another predicted type.

    Args:
        edge_types (torch.Tensor): Predicted types ``[E]``, or logits or
            probabilities ``[E, K]`` (their most probable type); per step,
            ``[E, T]`` or ``[E, T, K]`` (the fraction over edges and steps).
        edge_index (torch.Tensor): The candidate edges ``[2, E]``.
        num_nodes (int, optional): The number of nodes.

    Returns:
        float: In :math:`[0, 1]`; ``nan`` when no edge has a reverse (over
        several batches, sum :func:`asymmetry_counts` instead of averaging
        rates, which a batch without pairs would make NaN).
    """
    asymmetric, paired = asymmetry_counts(edge_types, edge_index, num_nodes)
    return asymmetric / paired if paired else float("nan")
