r"""PNG plots of a run: learning curves, predicted against true trajectories
(as the NRI paper's Fig. 5) and the inferred against the true graph.

Figures are drawn with :class:`matplotlib.figure.Figure`, not
:mod:`matplotlib.pyplot`: they need no display and leave the backend and
the figures of the session (a notebook's, say) alone. A system of more than
:data:`MAX_PLOT_OBJECTS` objects is drawn as a window of it
(:func:`nearest_objects`, :func:`window_edges`), so that a plot's memory and
ink do not grow with :math:`N`."""
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from torch import Tensor

#: The most objects a plot of one system draws.
MAX_PLOT_OBJECTS = 100


def nearest_objects(positions: Tensor, num: int = MAX_PLOT_OBJECTS) -> Tensor:
    r"""The window of a large system that its plots draw: the ``num``
    objects nearest object 0 (itself included), nearest first, in
    :math:`O(N \log N)`.

    Args:
        positions (torch.Tensor): The objects' positions ``[N, D]``.
        num (int, optional): The objects of the window.
            (default: :data:`MAX_PLOT_OBJECTS`)

    Returns:
        torch.Tensor: The indices of the window's objects ``[min(num, N)]``.
    """
    distance = (positions - positions[0]).pow(2).sum(-1)
    return torch.argsort(distance, stable=True)[:num]


def window_edges(edge_index: Tensor, nodes: Tensor, num_nodes: int) -> Tuple[Tensor, Tensor]:
    r"""The edges among the objects ``nodes`` of a system of ``num_nodes``,
    in :math:`O(N + E)`.

    Returns:
        (torch.Tensor, torch.Tensor): The edges ``[2, E']`` with the objects
        numbered by their place in ``nodes``, and the positions ``[E']`` of
        these edges in ``edge_index``.
    """
    place = torch.full((num_nodes,), -1, dtype=torch.long, device=edge_index.device)
    place[nodes] = torch.arange(nodes.numel(), device=edge_index.device)
    local = place[edge_index]
    kept = ((local[0] >= 0) & (local[1] >= 0)).nonzero().flatten()
    return local[:, kept], kept


def plot_curves(history: List[Dict[str, float]], path: str) -> None:
    r"""Training and validation NLL, KL and edge accuracy per epoch."""
    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(13, 3.6))
    axes = fig.subplots(1, 3)
    for ax, key, label in zip(axes, ("nll", "kl", "accuracy"), ("NLL per node", "KL per node",
                                                                  "edge accuracy")):
        for split in ("train", "valid"):
            ax.plot(epochs, [row[f"{split}_{key}"] for row in history], label=split)
        ax.set_xlabel("epoch")
        ax.set_title(label)
    axes[0].set_yscale("log")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_trajectories(observed: Tensor, truth: Tensor, predicted: Tensor, path: str,
                      title: Optional[str] = None) -> None:
    r"""One system: the observed steps, then the true and the predicted
    continuation. Features 0 and 1 are drawn as 2-D paths (springs,
    charged); with fewer than 4 features (Kuramoto), feature 1 against time.
    ``title`` heads the figure (e.g. the window of a large system)."""
    observed, truth, predicted = (t.detach().cpu().numpy() for t in (observed, truth, predicted))
    num_nodes = observed.shape[0]
    colors = colormaps["tab10"](np.arange(num_nodes) % 10)
    fig = Figure(figsize=(10, 4.5))
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    for ax, future, panel in ((axes[0], truth, "ground truth"), (axes[1], predicted, "NRI")):
        for node in range(num_nodes):
            if observed.shape[-1] >= 4:
                ax.plot(observed[node, :, 0], observed[node, :, 1], color=colors[node], alpha=0.3)
                ax.plot(future[node, :, 0], future[node, :, 1], color=colors[node])
                ax.plot(*future[node, -1, :2], "o", color=colors[node])
            else:
                feature = min(1, observed.shape[-1] - 1)
                steps = np.arange(observed.shape[1] + future.shape[1])
                ax.plot(steps[:observed.shape[1]], observed[node, :, feature],
                        color=colors[node], alpha=0.3)
                ax.plot(steps[observed.shape[1]:], future[node, :, feature], color=colors[node])
        ax.set_title(panel)
    if title is not None:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_graph(edge_index: Tensor, inferred: Tensor, truth: Optional[Tensor], num_nodes: int,
               path: str, title: Optional[str] = None) -> None:
    r"""Adjacency matrices of edge types: inferred (after matching the types
    to the true ones) beside the truth, for one system of ``num_nodes``
    objects (an :math:`N \times N` array each: draw a window of a large
    system, :func:`window_edges`). ``title`` heads the figure."""
    panels = [("inferred", inferred)] + ([("true", truth)] if truth is not None else [])
    fig = Figure(figsize=(4.2 * len(panels), 3.8))
    axes = fig.subplots(1, len(panels), squeeze=False)
    senders, receivers = edge_index.cpu().numpy()
    vmax = max(int(p.max()) if p.numel() else 0 for _, p in panels)
    for ax, (panel, types) in zip(axes[0], panels):
        matrix = np.full((num_nodes, num_nodes), np.nan)
        matrix[senders, receivers] = types.cpu().numpy()
        image = ax.imshow(matrix, vmin=0, vmax=max(vmax, 1), cmap="viridis")
        ax.set_title(f"{panel} edge types")
        ax.set_xlabel("receiver")
        ax.set_ylabel("sender")
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8)
    if title is not None:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)


def plot_graph_over_time(edge_index: Tensor, inferred: Tensor, truth: Optional[Tensor],
                         path: str, max_edges: int = 60, title: Optional[str] = None) -> None:
    r"""The edge types of a graph that changes over time, one row per edge
    and one column per step: inferred (``[E, T]``, or ``[E]`` for a static
    graph, drawn at every step) beside the truth (``[E, T]`` or ``[E]``).
    The first ``max_edges`` edges whose type ever differs from 0 (in
    either) are drawn, labelled ``i->j``. ``title`` heads the figure."""
    num_steps = max(t.size(1) for t in (inferred, truth) if t is not None and t.dim() == 2)
    panels = [("inferred", inferred)] + ([("true", truth)] if truth is not None else [])
    panels = [(panel, (t[:, None].expand(-1, num_steps) if t.dim() == 1 else t).cpu())
              for panel, t in panels]
    active = torch.stack([t.ne(0).any(1) for _, t in panels]).any(0)
    rows = active.nonzero().flatten()[:max_edges]
    if rows.numel() == 0:
        rows = torch.arange(min(edge_index.size(1), max_edges))
    labels = [f"{int(i)}->{int(j)}" for i, j in edge_index[:, rows].cpu().t()]
    vmax = max(max(int(t.max()) if t.numel() else 0 for _, t in panels), 1)
    fig = Figure(figsize=(4.5 * len(panels), 1.2 + 0.25 * len(rows)))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (panel, types) in zip(axes[0], panels):
        image = ax.imshow(types[rows].numpy(), aspect="auto", interpolation="nearest",
                          vmin=0, vmax=vmax, cmap="viridis")
        ax.set_title(f"{panel} edge types over time")
        ax.set_xlabel("step")
        ax.set_yticks(range(len(rows)), labels, fontsize=7)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8)
    if title is not None:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)


#: The most points of a ROC curve that :func:`plot_roc` draws.
MAX_ROC_POINTS = 2000


def plot_roc(false_positive_rate: Tensor, true_positive_rate: Tensor, auroc: float,
             path: str) -> None:
    r"""The ROC curve of "edge vs no edge"
    (:func:`~torch_nri.metrics.roc_curve`) with its area ``auroc`` and the
    diagonal of chance. A curve of more than :data:`MAX_ROC_POINTS` points
    is drawn through that many of them, evenly spaced along it, its ends
    kept."""
    fpr, tpr = false_positive_rate.cpu().numpy(), true_positive_rate.cpu().numpy()
    if fpr.size > MAX_ROC_POINTS:
        kept = np.unique(np.linspace(0, fpr.size - 1, MAX_ROC_POINTS).round().astype(int))
        fpr, tpr = fpr[kept], tpr[kept]
    fig = Figure(figsize=(4.2, 4))
    ax = fig.subplots()
    ax.plot(fpr, tpr, label=f"AUROC {auroc:.3f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("edge vs no edge")
    ax.set_aspect("equal")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_edge_probabilities(positions: Optional[Tensor], edge_index: Tensor, scores: Tensor,
                            num_nodes: int, path: str, label: str,
                            title: Optional[str] = None) -> None:
    r"""An inferred graph of one system: its candidate edges drawn over the
    objects' positions, coloured by ``scores`` (e.g. the probability of an
    edge), beside the :math:`N \times N` heat-map of the scores (blank where
    a pair is no candidate). Draw a window of a large system
    (:func:`window_edges`).

    Args:
        positions (torch.Tensor, optional): The objects' positions
            ``[N, 2]``; :obj:`None` places them on a circle.
        edge_index (torch.Tensor): The edges ``[2, E]``, sender first.
        scores (torch.Tensor): A value in :math:`[0, 1]` per edge ``[E]``.
        num_nodes (int): The objects :math:`N`.
        path (str): The PNG file.
        label (str): What the scores are, for the colour bar.
        title (str, optional): Heads the figure.
    """
    senders, receivers = edge_index.cpu().numpy()
    values = scores.detach().float().cpu().numpy()
    if positions is None:
        angle = 2 * np.pi * np.arange(num_nodes) / max(num_nodes, 1)
        points = np.stack([np.cos(angle), np.sin(angle)], 1)
    else:
        points = positions.detach().double().cpu().numpy()
    order = np.argsort(values, kind="stable")  # the most probable edges on top
    cmap = colormaps["viridis"]
    fig = Figure(figsize=(9.6, 4.4))
    axes = fig.subplots(1, 2)
    lines = LineCollection(np.stack([points[senders[order]], points[receivers[order]]], 1),
                           array=values[order], cmap=cmap, linewidths=1.0)
    lines.set_clim(0, 1)
    axes[0].add_collection(lines)
    axes[0].scatter(points[:, 0], points[:, 1], s=12, color="black", zorder=3)
    axes[0].set_aspect("equal", adjustable="datalim")
    axes[0].set_title("edges over the positions at the first step"
                      if positions is not None else "edges (objects on a circle)")
    matrix = np.full((num_nodes, num_nodes), np.nan)
    matrix[senders, receivers] = values
    image = axes[1].imshow(matrix, vmin=0, vmax=1, cmap=cmap, interpolation="nearest")
    axes[1].set_title("heat-map")
    axes[1].set_xlabel("receiver")
    axes[1].set_ylabel("sender")
    fig.colorbar(image, ax=axes.tolist(), shrink=0.8, label=label)
    if title is not None:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
