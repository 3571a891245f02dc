from typing import Dict, List, Tuple

import numpy as np

from torch_nri.datasets.simulated import EdgeTypeFn, SimulatedDataset
from torch_nri.simulations import simulate_charged


class ChargedDataset(SimulatedDataset):
    r"""Charged particles (:func:`~torch_nri.simulations.simulate_charged`),
    features ``[x, y, v_x, v_y]`` (groups ``"position"`` and ``"velocity"``);
    edge type 1 where the charges have the same sign. See
    :class:`~torch_nri.datasets.SimulatedDataset` for the arguments."""
    name = "charged"
    feature_groups: Dict[str, List[int]] = {"position": [0, 1], "velocity": [2, 3]}
    simulator = staticmethod(simulate_charged)

    def simulate(self, num_sims: int, length: int, seed: int) -> Tuple[np.ndarray, EdgeTypeFn]:
        sim = self._simulate(num_sims, length, seed)
        charges = sim.charges
        return sim.features, lambda s, i, j: (charges[s, i] * charges[s, j] > 0).astype(np.int64)
