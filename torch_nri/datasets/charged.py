from typing import Dict, List, Tuple

import numpy as np

from torch_nri.datasets.simulated import RelationCountFn, SimulatedDataset, Simulation
from torch_nri.simulations import ParticleTrajectories, simulate_charged
from torch_nri.simulations.neighbours import close_pair_keys, isin_sorted


class ChargedDataset(SimulatedDataset):
    r"""Charged particles (:func:`~torch_nri.simulations.simulate_charged`),
    features ``[x, y, v_x, v_y]`` (groups ``"position"`` and ``"velocity"``);
    edge type 1 where the charges have the same sign. See
    :class:`~torch_nri.datasets.SimulatedDataset` for the arguments.

    The edge type is the papers' relation: the sign of :math:`q_i q_j`
    (repulsion or attraction), so type 0 is an interaction too. For
    :attr:`candidate_recall` the true relations are the pairs that
    interact: every pair without a cut-off; with ``cutoff``, the directed
    pairs closer than the cut-off at some sampled step of the trajectory
    (a pair that never comes that close never feels the other, whatever
    its charges). Each counts once, as its edge type does: a pair that
    interacts at some step is a relation the model must be able to
    represent, so the candidate graph must hold it."""
    name = "charged"
    feature_groups: Dict[str, List[int]] = {"position": [0, 1], "velocity": [2, 3]}
    simulator = staticmethod(simulate_charged)
    training_defaults = {"encoder": "cnn"}
    training_defaults_source = "NRI supplement D.1: a CNN encoder for the charged particles"

    def simulate(self, num_sims: int, length: int, seed: int) -> Simulation:
        sim = self._simulate(num_sims, length, seed)
        charges = sim.charges
        return Simulation(
            sim.features, lambda s, i, j: (charges[s, i] * charges[s, j] > 0).astype(np.int64),
            self._interacting_pairs(sim))

    def _interacting_pairs(self, sim: ParticleTrajectories) -> RelationCountFn:
        num_sims, _, num_nodes = sim.positions.shape[:3]
        cutoff = self.physics["cutoff"]
        if cutoff is None:  # every pair of distinct objects interacts
            return lambda s, i, j: (int(np.count_nonzero(i != j)), num_nodes * (num_nodes - 1))
        num_flat = num_sims * num_nodes
        keys = close_pair_keys(sim.positions, cutoff)  # undirected, i < j, flat indices
        totals = 2 * np.bincount(keys // num_flat // num_nodes, minlength=num_sims)

        def counts(s: int, senders: np.ndarray, receivers: np.ndarray) -> Tuple[int, int]:
            offset = s * num_nodes
            i, j = senders.astype(np.int64) + offset, receivers.astype(np.int64) + offset
            found = isin_sorted(keys, np.minimum(i, j) * num_flat + np.maximum(i, j))
            return int(np.count_nonzero(found)), int(totals[s])
        return counts
