from typing import Dict, List, Optional

from torch_nri.datasets.simulated import (SimulatedDataset, Simulation, relation_counts,
                                          relation_lookup)
from torch_nri.simulations import simulate_springs


class SpringsDataset(SimulatedDataset):
    r"""Particles joined by springs (:func:`~torch_nri.simulations.simulate_springs`),
    features ``[x, y, v_x, v_y]`` (groups ``"position"`` and ``"velocity"``);
    edge type 1 where a spring joins the pair (or the spring type, for
    ``spring_types=(0, 0.5, 1)``). See
    :class:`~torch_nri.datasets.SimulatedDataset` for the arguments."""
    name = "springs"
    feature_groups: Dict[str, List[int]] = {"position": [0, 1], "velocity": [2, 3]}
    simulator = staticmethod(simulate_springs)

    def simulate(self, num_sims: int, length: int, seed: int) -> Simulation:
        sim = self._simulate(num_sims, length, seed)
        return Simulation(sim.features, relation_lookup(sim.relations),
                          relation_counts(sim.relations))

    @property
    def spring_constants(self) -> List[float]:
        r"""The spring constant of each edge type,
        ``interaction_strength * spring_types``."""
        strength = self.physics["interaction_strength"]
        return [strength * c for c in self.physics["spring_types"]]

    @property
    def box_size(self) -> Optional[float]:
        r"""Half-width of the box, :obj:`None` without walls
        (``walls=False``)."""
        return self.physics["box_size"] if self.physics["walls"] else None

    @property
    def time_step(self) -> float:
        r"""Time between two samples, ``dt * sample_freq``."""
        return self.physics["dt"] * self.params["sample_freq"]
