from typing import Any, Dict, List, Optional

from torch_nri.datasets.simulated import SimulatedDataset, Simulation, first_type_no_edge
from torch_nri.simulations import simulate_proximity


def _no_edge_prior(config: Any) -> Optional[List[float]]:
    # The dNRI code's --no_edge_prior 0.9: type 0 ("no edge") 0.9, the
    # other types share the rest.
    others = config.num_edge_types - 1
    return [0.9] + [0.1 / others] * others if others else None


class ProximityDataset(SimulatedDataset):
    r"""Particles that push each other only while close
    (:func:`~torch_nri.simulations.simulate_proximity`): a graph that
    changes over time. Features ``[x, y, v_x, v_y]`` (groups ``"position"``
    and ``"velocity"``); ``edge_type`` is ``[E, T]``, 1 where the edge acts
    at that step. With ``num_nodes=3`` the systems are dNRI's synthetic data
    (50 steps, 71 for the test split so that the test protocol's 50
    observed steps are followed by 20 to predict); with more objects, the
    ``"gas"`` layout, whose candidate graph should be ``graph="knn"`` (or
    ``"radius"``): the union of each step's :math:`k` nearest neighbours (or
    pairs within the radius) over the whole trajectory, so that a pair that
    comes close at some step is a candidate.
    See :class:`~torch_nri.datasets.SimulatedDataset` for the arguments."""
    name = "proximity"
    feature_groups: Dict[str, List[int]] = {"position": [0, 1], "velocity": [2, 3]}
    simulator = staticmethod(simulate_proximity)
    default_length = 51
    default_test_length = 72
    default_sample_freq = 1
    relations_change = True
    training_defaults = {"skip_first": first_type_no_edge, "prior": _no_edge_prior,
                         "batch_size": 16}
    training_defaults_source = ("the dNRI code's runs on its synthetic data: --skip_first, "
                                "--no_edge_prior 0.9, --batch_size 16")

    def simulate(self, num_sims: int, length: int, seed: int) -> Simulation:
        sim = self._simulate(num_sims, length, seed)
        totals = sim.active_counts()
        return Simulation(sim.features, sim.edge_types, lambda s, i, j: (
            int(sim.edge_types(s, i, j).sum()), int(totals[s])))

