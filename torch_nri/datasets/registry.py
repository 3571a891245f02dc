r"""The registry of simulated systems: one description per system (its
dataset class), read by the training configuration, the command line, the
model builders and the simulator decoder."""
from typing import Dict, Type

from torch_nri.datasets.charged import ChargedDataset
from torch_nri.datasets.kuramoto import KuramotoDataset
from torch_nri.datasets.proximity import ProximityDataset
from torch_nri.datasets.simulated import PhysicsParameter, SimulatedDataset
from torch_nri.datasets.springs import SpringsDataset

#: System name -> dataset class. A new system is a file with its
#: :class:`~torch_nri.datasets.SimulatedDataset` and a line here.
SYSTEMS: Dict[str, Type[SimulatedDataset]] = {
    SpringsDataset.name: SpringsDataset,
    ChargedDataset.name: ChargedDataset,
    KuramotoDataset.name: KuramotoDataset,
    ProximityDataset.name: ProximityDataset,
}


def get_system(name: str) -> Type[SimulatedDataset]:
    r"""The dataset class of the system called ``name``."""
    if name not in SYSTEMS:
        raise ValueError(f"'system' must be one of {sorted(SYSTEMS)}, got {name!r}")
    return SYSTEMS[name]


def physics_parameters() -> Dict[str, PhysicsParameter]:
    r"""The physics parameters of every registered system, by name (the
    first system's where several share a name: same type, other default)."""
    parameters: Dict[str, PhysicsParameter] = {}
    for cls in SYSTEMS.values():
        for name, parameter in cls.physics_parameters().items():
            parameters.setdefault(name, parameter)
    return parameters
