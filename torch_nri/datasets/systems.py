from typing import List, Tuple

import numpy as np

from torch_nri.datasets.simulated import EdgeTypeFn, SimulatedDataset
from torch_nri.simulations import simulate_charged, simulate_kuramoto, simulate_springs


def _lookup(relations) -> EdgeTypeFn:
    # Dense [S, N, N] arrays and lists of sparse matrices index the same way.
    return lambda s, senders, receivers: np.asarray(relations[s][senders, receivers]).reshape(-1)


class SpringsDataset(SimulatedDataset):
    r"""Particles joined by springs (:func:`~torch_nri.simulations.simulate_springs`),
    features ``[x, y, v_x, v_y]``; edge type 1 where a spring joins the pair
    (or the spring type, for ``spring_types=(0, 0.5, 1)``). See
    :class:`~torch_nri.datasets.SimulatedDataset` for the arguments."""
    name = "springs"
    feature_groups: List[List[int]] = [[0, 1], [2, 3]]

    def simulate(self, num_sims: int, length: int, seed: int) -> Tuple[np.ndarray, EdgeTypeFn]:
        sim = simulate_springs(num_sims, self.params["num_nodes"], length,
                               self.params["sample_freq"], seed, progress=self.progress,
                               **self.params["physics"])
        return sim.features, _lookup(sim.relations)


class ChargedDataset(SimulatedDataset):
    r"""Charged particles (:func:`~torch_nri.simulations.simulate_charged`),
    features ``[x, y, v_x, v_y]``; edge type 1 where the charges have the
    same sign. See :class:`~torch_nri.datasets.SimulatedDataset` for the
    arguments."""
    name = "charged"
    feature_groups: List[List[int]] = [[0, 1], [2, 3]]

    def simulate(self, num_sims: int, length: int, seed: int) -> Tuple[np.ndarray, EdgeTypeFn]:
        sim = simulate_charged(num_sims, self.params["num_nodes"], length,
                               self.params["sample_freq"], seed, progress=self.progress,
                               **self.params["physics"])
        charges = sim.charges
        return sim.features, lambda s, i, j: (charges[s, i] * charges[s, j] > 0).astype(np.int64)


class KuramotoDataset(SimulatedDataset):
    r"""Kuramoto oscillators (:func:`~torch_nri.simulations.simulate_kuramoto`),
    features ``[coupling term, sin(phase), omega]``, each scaled on its own;
    edge type 1 where the pair is coupled. Only the fully connected
    candidate graph applies (oscillators have no positions). See
    :class:`~torch_nri.datasets.SimulatedDataset` for the arguments."""
    name = "kuramoto"
    feature_groups: List[List[int]] = [[0], [1], [2]]
    default_length = 500
    default_test_length = 1000
    default_sample_freq = 10
    has_positions = False

    def simulate(self, num_sims: int, length: int, seed: int) -> Tuple[np.ndarray, EdgeTypeFn]:
        sim = simulate_kuramoto(num_sims, self.params["num_nodes"], length,
                                self.params["sample_freq"], seed, progress=self.progress,
                                **self.params["physics"])
        return sim.features, _lookup(sim.relations)
