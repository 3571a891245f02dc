from typing import Optional

import numpy as np
from tqdm.auto import tqdm

from torch_nri._validation import check_int, check_real
from torch_nri.simulations.neighbours import radius_pairs, union_offsets
from torch_nri.simulations.particles import (CHUNK_SIZE, initial_state, integrate, num_chunks,
                                             num_samples_of, pair_forces, wall_box)
from torch_nri.simulations.relations import probabilities
from torch_nri.simulations.springs import ParticleTrajectories


def simulate_charged(num_sims: int, num_nodes: int = 5, length: int = 5000,
                     sample_freq: int = 100, seed: Optional[int] = None,
                     charge_prob: float = 0.5, interaction_strength: float = 1.0,
                     box_size: float = 5.0, loc_std: float = 1.0, vel_norm: float = 0.5,
                     dt: float = 0.001, cutoff: Optional[float] = None, skin: float = 0.5,
                     density: Optional[float] = None, walls: bool = True,
                     progress: bool = False) -> ParticleTrajectories:
    r"""Charged particles (NRI supplement B.2), many systems at once.

    Charges :math:`q_i = \pm 1` (positive with probability ``charge_prob``)
    interact by Coulomb's law, every pair (or, with ``cutoff``, every pair
    closer than the cut-off):

    .. math::
        \mathbf{F}_i = C \sum_{j \neq i} q_i q_j
        \frac{\mathbf{r}_i - \mathbf{r}_j}{\lVert \mathbf{r}_i - \mathbf{r}_j \rVert^3}

    with each force component clipped to :math:`\pm 0.1 / dt` as in the
    original code (close encounters would otherwise need a much smaller
    step). The box, walls, integrator and sampling are those of
    :func:`simulate_springs`. The relation of a pair is 1 when the charges
    have the same sign (repulsion) and 0 otherwise.

    With ``cutoff`` (large :math:`N`), forces are summed over a Verlet pair
    list: all pairs within ``cutoff + skin``, found with
    :class:`scipy.spatial.cKDTree` and rebuilt whenever some particle has
    moved more than ``skin / 2`` since the last build, so no pair within the
    cut-off is ever missed, at :math:`O(E)` per step; the list holds pairs
    of one system only, however far its objects drift. ``relations`` is then
    ``None``: the type of any pair follows from ``charges``.

    Large systems at constant density, without walls: ``density`` and
    ``walls=False`` as for :func:`simulate_springs` (a uniform start in a
    square of side :math:`\sqrt{N / \rho}`, free space; a deviation from
    the papers' Gaussian start of standard deviation 1 inside walls). The
    Coulomb constant, the clipping, ``dt``, the sampling and the speed stay
    the papers'. A uniform start puts some pairs closer than a grid would;
    their forces are clipped, as every close encounter of the original.

    Args:
        num_sims (int): Number of systems.
        num_nodes (int, optional): Objects per system. (default: :obj:`5`)
        length (int, optional): Integration steps. (default: :obj:`5000`)
        sample_freq (int, optional): Steps between samples. (default: :obj:`100`)
        seed (int, optional): Seed of :func:`numpy.random.default_rng`.
        charge_prob (float, optional): Probability of a positive charge.
            (default: :obj:`0.5`)
        interaction_strength (float, optional): Coulomb constant :math:`C`.
            (default: :obj:`1.0`)
        box_size (float, optional): Half-width of the box. (default: :obj:`5.0`)
        loc_std (float, optional): Std of initial positions. (default: :obj:`1.0`)
        vel_norm (float, optional): Initial speed. (default: :obj:`0.5`)
        dt (float, optional): Integration step. (default: :obj:`0.001`)
        cutoff (float, optional): Interaction cut-off distance.
            (default: :obj:`None`, all pairs)
        skin (float, optional): Verlet-list margin beyond the cut-off.
            (default: :obj:`0.5`)
        density (float, optional): Objects per unit area of a uniform start
            in a square. (default: :obj:`None`, the Gaussian start)
        walls (bool, optional): Elastic walls at :math:`\pm` ``box_size``;
            :obj:`False` for free space. With a ``density``, the start square
            must fit in the box. (default: :obj:`True`)
        progress (bool, optional): Show a progress bar. (default: :obj:`False`)
    """
    check_int(seed, "seed", 0, optional=True)
    check_real(interaction_strength, "interaction_strength")
    check_real(dt, "dt", 0)
    # A cut-off of 0 or less would switch every force off while the relations
    # still name the pairs as interacting.
    check_real(cutoff, "cutoff", 0, optional=True)
    check_real(skin, "skin", 0, low_open=False)
    probs = probabilities([1 - charge_prob, charge_prob], 2, "charge_prob")
    rng = np.random.default_rng(seed)
    charges = np.where(rng.random((num_sims, num_nodes)) < probs[1], 1.0, -1.0)
    positions, velocities = initial_state(rng, num_sims, num_nodes, loc_std, vel_norm, density)
    box = wall_box(walls, box_size, num_nodes, density)
    num_samples = num_samples_of(length, sample_freq)

    if cutoff is None:
        coupling = interaction_strength * charges[:, :, None] * charges[:, None, :]
        diagonal = np.arange(num_nodes)
        coupling[:, diagonal, diagonal] = 0.0  # no self force

        def make_forces(chunk):
            q = coupling[chunk]

            def forces(pos):
                dx = pos[:, :, None, 0] - pos[:, None, :, 0]  # x_i - x_j, [S, N, N]
                dy = pos[:, :, None, 1] - pos[:, None, :, 1]
                dist2 = dx * dx + dy * dy
                dist2[:, diagonal, diagonal] = 1.0  # any finite value: its coupling is 0
                weight = q / (dist2 * np.sqrt(dist2))
                return np.stack([(weight * dx).sum(-1), (weight * dy).sum(-1)], axis=-1)
            return forces

        relations = (charges[:, :, None] * charges[:, None, :] > 0).astype(np.int64)
        relations[:, np.arange(num_nodes), np.arange(num_nodes)] = 0
        chunk_size = CHUNK_SIZE
    else:
        flat_charges = charges.reshape(-1)
        state = {"built_at": None, "pairs": None}
        shift = union_offsets(positions) - positions.reshape(-1, 2)  # fixed system offsets

        def forces(pos):
            flat = pos.reshape(-1, 2)
            built_at = state["built_at"]
            if built_at is None or np.abs(flat - built_at).max() > skin / 2:
                senders, receivers = radius_pairs(flat + shift, cutoff + skin, num_nodes)
                coupling = interaction_strength * flat_charges[receivers] * flat_charges[senders]
                state["pairs"] = senders, receivers, coupling
                state["built_at"] = flat.copy()
            senders, receivers, coupling = state["pairs"]
            # One coordinate at a time, contiguous: 3.5x faster than [P, 2] rows
            # (measured at 10^5 objects, 10^6 pairs).
            x, y = flat[:, 0].copy(), flat[:, 1].copy()
            dx, dy = x[receivers] - x[senders], y[receivers] - y[senders]
            dist2 = dx * dx + dy * dy
            weight = coupling / (dist2 * np.sqrt(dist2))
            weight[dist2 >= cutoff * cutoff] = 0.0
            return pair_forces(pos, senders, receivers, weight * dx, weight * dy)

        def make_forces(chunk):
            return forces  # pairs index all systems at once: one chunk

        relations, chunk_size = None, None
    total = num_samples * num_chunks(num_sims, chunk_size)
    with tqdm(total=total, desc="charged", disable=not progress) as bar:
        pos, vel = integrate(positions, velocities, make_forces, length, sample_freq, box,
                             max_force=0.1 / dt, dt=dt, chunk_size=chunk_size, progress=bar)
    return ParticleTrajectories(pos, vel, relations, charges)
