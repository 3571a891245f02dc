from typing import Dict, List, Tuple

import numpy as np

from torch_nri.datasets.simulated import EdgeTypeFn, SimulatedDataset, relation_lookup
from torch_nri.simulations import simulate_kuramoto


class KuramotoDataset(SimulatedDataset):
    r"""Kuramoto oscillators (:func:`~torch_nri.simulations.simulate_kuramoto`),
    features ``[coupling term, sin(phase), omega]``, each scaled on its own;
    edge type 1 where the pair is coupled. Only the fully connected
    candidate graph applies (oscillators have no positions). See
    :class:`~torch_nri.datasets.SimulatedDataset` for the arguments."""
    name = "kuramoto"
    feature_groups: Dict[str, List[int]] = {"coupling": [0], "sin_phase": [1], "omega": [2]}
    simulator = staticmethod(simulate_kuramoto)
    default_length = 500
    default_test_length = 1000
    default_sample_freq = 10
    has_positions = False

    def simulate(self, num_sims: int, length: int, seed: int) -> Tuple[np.ndarray, EdgeTypeFn]:
        sim = self._simulate(num_sims, length, seed)
        return sim.features, relation_lookup(sim.relations)
