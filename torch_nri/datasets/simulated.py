import collections.abc
import copy
import hashlib
import inspect
import json
import os.path as osp
import typing
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple

import numpy as np
import scipy.sparse
import torch
from torch_geometric.data import Data, InMemoryDataset

from torch_nri._validation import check_int
from torch_nri.datasets.normalization import MinMaxStats
from torch_nri.graphs import candidate_graph, check_candidate_graph, check_position_features
from torch_nri.io import (atomic_torch_save, atomic_write_text, check_directory,
                          remove_temporaries)
from torch_nri.simulations.particles import num_samples_of

SPLITS = ("train", "valid", "test")
# Edge types of candidate edges: (system index, senders, receivers) -> types.
EdgeTypeFn = Callable[[int, np.ndarray, np.ndarray], np.ndarray]
# True relations of one system: (system index, candidate senders, candidate
# receivers) -> (true relations among the candidates, all true relations).
RelationCountFn = Callable[[int, np.ndarray, np.ndarray], Tuple[int, int]]
# The simulator arguments that a dataset sets itself; the others are physics.
_DATA_ARGUMENTS = ("num_sims", "num_nodes", "length", "sample_freq", "seed", "progress")


def relation_lookup(relations: Any) -> EdgeTypeFn:
    r"""The edge types of candidate edges from the relations of a simulation:
    dense ``[S, N, N]`` arrays or lists of sparse matrices, which index the
    same way."""
    return lambda s, senders, receivers: np.asarray(relations[s][senders, receivers]).reshape(-1)


def relation_counts(relations: Any) -> RelationCountFn:
    r"""The :data:`RelationCountFn` of relations given as dense
    ``[S, N, N]`` arrays or lists of sparse matrices: the true relations are
    the directed pairs of nonzero type."""
    def counts(s: int, senders: np.ndarray, receivers: np.ndarray) -> Tuple[int, int]:
        system = relations[s]
        found = np.count_nonzero(np.asarray(system[senders, receivers]))
        total = (system.count_nonzero() if scipy.sparse.issparse(system)
                 else np.count_nonzero(system))
        return int(found), int(total)
    return counts


class Simulation(NamedTuple):
    r"""What :meth:`SimulatedDataset.simulate` returns for one split.

    Attributes:
        features (numpy.ndarray): Raw features ``[num_sims, T, N, F]``.
        edge_types (callable): The true type of candidate edges,
            ``edge_types(system, senders, receivers)``: ``[E]``, or ``[E, T]``
            where the relations change over time.
        relation_counts (callable, optional): For the candidate edges of a
            system, ``relation_counts(system, senders, receivers)`` gives how
            many true relations they hold and how many the system has, each
            counted once per step where the relations change over time
            (:attr:`SimulatedDataset.candidate_recall`); :obj:`None` where
            they are unknown.
    """
    features: np.ndarray
    edge_types: EdgeTypeFn
    relation_counts: Optional[RelationCountFn] = None


@dataclass(frozen=True)
class PhysicsParameter:
    r"""A physics parameter of a simulated system: a keyword argument of its
    simulator with its default, the type of a value (:obj:`float`,
    :obj:`int`, :obj:`bool` or :obj:`str`; :obj:`None` for any value, taken
    as it is) and whether it takes a sequence of them."""
    name: str
    default: Any
    type: Optional[type]
    sequence: bool

    def convert(self, value: Any) -> Any:
        r"""``value`` as a plain JSON value of this parameter's type (a list
        for a sequence), or a :class:`ValueError` that names the parameter."""
        if value is None or self.type is None:
            return value
        try:
            if not self.sequence:
                return self._one(value)
            if isinstance(value, (str, bytes)) or not isinstance(value, collections.abc.Iterable):
                raise TypeError
            return [self._one(v) for v in value]
        except (TypeError, ValueError):
            kind = f"a sequence of {self.type.__name__}" if self.sequence else self.type.__name__
            raise ValueError(f"physics parameter '{self.name}' must be {kind}, "
                             f"got {value!r}") from None

    def _one(self, value: Any) -> Any:
        if isinstance(value, bool) != (self.type is bool):
            raise TypeError  # True is no number, 1 no boolean
        if self.type is int and float(value) != int(value):
            raise TypeError
        if self.type is str and not isinstance(value, str):
            raise TypeError
        return self.type(value)


def _parameter(name: str, default: Any, hint: Any) -> PhysicsParameter:
    # Optional[X] is X that may be None; Sequence[X] and tuple are sequences.
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is typing.Union and len(args) == 1:
        hint = args[0]
    origin = typing.get_origin(hint) or hint
    sequence = origin in (collections.abc.Sequence, tuple, list)
    if sequence:
        elements = [a for a in typing.get_args(hint) if a is not Ellipsis]
        hint = elements[0] if elements else float
    return PhysicsParameter(name, default, hint if hint in (int, float, bool, str) else None,
                            sequence)


def first_type_no_edge(config: Any) -> bool:
    r"""A :attr:`SimulatedDataset.training_defaults` value: type 0 means
    "no edge" (``skip_first``) wherever there is another type."""
    return config.num_edge_types >= 2


class SimulatedDataset(InMemoryDataset):
    r"""Base class of the simulated datasets: simulates the three splits in
    :meth:`process`, normalises them with the training split's statistics,
    and caches them under ``root/processed/<name>-<key>/``, where the key is
    a hash of every parameter, so two configurations never share a cache.
    Every file is written atomically, and the cache counts as complete only
    when all of them exist, so an interrupted generation is redone.

    Each item is a :class:`~torch_geometric.data.Data` with ``x``
    ``[N, T, F]`` (normalised), ``edge_index`` ``[2, E]`` (the candidate
    graph) and ``edge_type`` ``[E]`` (the true relation of each candidate
    edge), or ``[E, T]`` for a system whose relations change over time
    (:attr:`relations_change`). Subclasses are the description of a system, the one place that
    knows it: :attr:`name`, :attr:`feature_groups`, :attr:`simulator` (whose
    keyword arguments beyond the data's own are the system's physics,
    :meth:`physics_parameters`), the default lengths, and :meth:`simulate`.
    The registry :data:`torch_nri.datasets.SYSTEMS` maps names to them.

    Args:
        root (str): Root directory of the cache.
        split (str, optional): ``"train"``, ``"valid"`` or ``"test"``.
            (default: ``"train"``)
        num_nodes (int, optional): Objects per system. (default: :obj:`5`)
        num_train (int, optional): Training systems. (default: :obj:`50000`)
        num_valid (int, optional): Validation systems. (default: :obj:`10000`)
        num_test (int, optional): Test systems. (default: :obj:`10000`)
        length (int, optional): Integration steps of training and validation
            systems. (default: per system, giving :math:`T = 49`)
        test_length (int, optional): Integration steps of test systems.
            (default: per system, giving :math:`T = 99`)
        sample_freq (int, optional): Steps between samples.
            (default: per system)
        seed (int, optional): Seed; each split draws from its own stream.
            (default: :obj:`42`)
        graph (str, optional): Candidate graph, ``"full"`` (fully connected),
            ``"knn"`` (the ``k`` nearest neighbours) or ``"radius"`` (every
            pair within ``graph_radius``), of the positions (the feature group
            ``"position"``, in raw units) at the first step, or at some step
            where the relations change over time. (default: ``"full"``)
        k (int, optional): Neighbours of the ``"knn"`` graph.
        graph_radius (float, optional): Distance of the ``"radius"`` graph,
            in the simulator's units (not the proximity system's physics
            parameter ``radius``, the distance of its interactions).
        transform, pre_transform (callable, optional): As in PyG.
        force_reload (bool, optional): Regenerate even if cached.
        progress (bool, optional): Show progress bars. (default: :obj:`False`)
        **physics: Physics parameters, keyword arguments of the simulator
            (e.g. ``spring_probs=(1, 0)``, ``num_neighbors=10``); the others
            keep the simulator's defaults (:attr:`physics` holds all of them).
    """
    name: str = ""
    #: Named groups of features, each min-max scaled on its own.
    feature_groups: Dict[str, List[int]] = {}
    #: The simulator, called as ``simulator(num_sims, num_nodes, length,
    #: sample_freq, seed, progress=..., **physics)``.
    simulator: Callable[..., Any]
    default_length: int = 5000
    default_test_length: int = 10000
    default_sample_freq: int = 100
    #: Whether the relations change over time (``edge_type`` ``[E, T]``);
    #: the ``"knn"`` and ``"radius"`` candidate graphs are then the union of
    #: every step's, so that a pair that comes close at some step is a
    #: candidate.
    relations_change: bool = False
    #: Physics parameters written into the cache key even at their defaults
    #: (the others only when given another value): a parameter whose default
    #: changed, so that a cache made under the old default is never read as
    #: data of the new one.
    key_physics: Tuple[str, ...] = ()
    #: The training settings of the paper that defined the system where they
    #: differ from the NRI paper's general ones, by
    #: :class:`~torch_nri.training.TrainConfig` field, e.g.
    #: ``{"encoder": "cnn"}``: the defaults of ``torch-nri train`` on this
    #: system. A value may be a function of the configuration (its
    #: ``num_edge_types``). :attr:`training_defaults_source` names the source.
    training_defaults: Dict[str, Any] = {}
    training_defaults_source: str = ""

    def __init__(self, root: str, split: str = "train", num_nodes: int = 5,
                 num_train: int = 50000, num_valid: int = 10000, num_test: int = 10000,
                 length: Optional[int] = None, test_length: Optional[int] = None,
                 sample_freq: Optional[int] = None, seed: int = 42, graph: str = "full",
                 k: Optional[int] = None, graph_radius: Optional[float] = None,
                 transform: Optional[Callable] = None,
                 pre_transform: Optional[Callable] = None, force_reload: bool = False,
                 progress: bool = False, **physics: Any) -> None:
        if split not in SPLITS:
            raise ValueError(f"'split' must be one of {SPLITS}, got {split!r}")
        self.check_graph(graph, k, graph_radius)
        for arg, value in (("num_train", num_train), ("num_valid", num_valid),
                           ("num_test", num_test), ("num_nodes", num_nodes)):
            check_int(value, arg, 1)
        check_int(seed, "seed", 0)
        self.num_steps(length, sample_freq)
        self.num_steps(test_length, sample_freq, test=True)
        self.params: Dict[str, Any] = dict(
            num_nodes=num_nodes, num_train=num_train, num_valid=num_valid,
            num_test=num_test, length=self.default_length if length is None else length,
            test_length=self.default_test_length if test_length is None else test_length,
            sample_freq=self.default_sample_freq if sample_freq is None else sample_freq,
            seed=seed, graph=graph, k=k, physics=self.physics_overrides(physics))
        if graph_radius is not None:  # absent otherwise: the keys made before it stay valid
            self.params["graph_radius"] = graph_radius
        self.check_physics(self.physics, num_nodes)
        check_directory(root, "root")  # the cache directory: a file there is a clear error
        self.split = split
        self.progress = progress
        super().__init__(root, transform, pre_transform, force_reload=force_reload)
        self.load(self.processed_paths[SPLITS.index(split)])
        with open(self.processed_paths[-1]) as f:
            meta = json.load(f)
        self.stats = MinMaxStats.from_dict(meta["stats"])
        # A cache written before the recall was measured has none.
        self._candidate_recall = (meta.get("candidate_recall") or {}).get(split)
        if self.stats.names is None and self.stats.groups == list(self.feature_groups.values()):
            self.stats.names = list(self.feature_groups)  # a cache of torch_nri 0.1.0

    @classmethod
    def num_steps(cls, length: Optional[int] = None, sample_freq: Optional[int] = None,
                  test: bool = False) -> int:
        r"""The steps :math:`T` of the trajectories that ``length`` integration
        steps sampled every ``sample_freq`` give (:obj:`None`: the system's
        default; ``test``: the default of the test split), or a
        :class:`ValueError` for a length the simulator cannot sample."""
        check_int(length, "test_length" if test else "length", 1, optional=True)
        check_int(sample_freq, "sample_freq", 1, optional=True)
        if length is None:
            length = cls.default_test_length if test else cls.default_length
        return num_samples_of(length, cls.default_sample_freq if sample_freq is None
                              else sample_freq)

    @classmethod
    def physics_parameters(cls) -> Dict[str, PhysicsParameter]:
        r"""The system's physics parameters: the keyword arguments of
        :attr:`simulator` other than those the dataset sets itself, with
        their defaults."""
        hints = typing.get_type_hints(cls.simulator)
        return {name: _parameter(name, p.default, hints.get(name))
                for name, p in inspect.signature(cls.simulator).parameters.items()
                if name not in _DATA_ARGUMENTS}

    @classmethod
    def physics_overrides(cls, physics: Mapping[str, Any]) -> Dict[str, Any]:
        r"""The given physics parameters that differ from the simulator's
        defaults, checked and converted to plain JSON values: what defines the
        data beyond the defaults (and the cache key, so that a default given
        explicitly finds the same cache)."""
        parameters = cls.physics_parameters()
        unknown = sorted(set(physics) - set(parameters))
        if unknown:
            raise ValueError(f"{cls.name} systems have no physics parameter "
                             f"{', '.join(map(repr, unknown))}; theirs are "
                             f"{', '.join(parameters)}")
        converted = {name: parameters[name].convert(value) for name, value in physics.items()}
        return {name: value for name, value in converted.items()
                if value != parameters[name].convert(parameters[name].default)}

    @classmethod
    def resolve_physics(cls, physics: Mapping[str, Any]) -> Dict[str, Any]:
        r"""Every physics parameter of the system: the given ones
        (:meth:`physics_overrides`) and the defaults of the others."""
        overrides = cls.physics_overrides(physics)
        return {name: overrides.get(name, parameter.convert(parameter.default))
                for name, parameter in cls.physics_parameters().items()}

    @classmethod
    def check_physics(cls, physics: Mapping[str, Any], num_nodes: int) -> None:
        r"""Raises the simulator's own :class:`ValueError` for physics it
        cannot simulate, before any data is: it simulates one system for one
        sample (no more than the simulator's set-up costs)."""
        cls.simulator(1, num_nodes, 2, 1, 0, progress=False, **physics)

    @property
    def physics(self) -> Dict[str, Any]:
        r"""Every physics parameter of the simulated systems."""
        return self.resolve_physics(self.params["physics"])

    @classmethod
    def check_graph(cls, graph: str, k: Optional[int], graph_radius: Optional[float] = None,
                    position_features: Optional[List[int]] = None) -> None:
        r"""Raises unless the candidate graph ``graph`` (with ``k`` or
        ``graph_radius``) can be built for the system's features, and unless the
        declared ``position_features`` (:obj:`None`: not declared) are the
        system's (:attr:`position_features`)."""
        check_candidate_graph(graph, k, graph_radius)
        check_position_features(position_features)
        positions = cls.feature_groups.get("position")
        if graph != "full" and positions is None:
            raise ValueError(f"{cls.name} systems have no positions for a kNN graph or a "
                             f"radius graph; use graph='full'")
        if position_features is not None and list(position_features) != positions:
            theirs = (f"are {positions}" if positions is not None else
                      f"do not exist (their features are {cls.feature_groups})")
            raise ValueError(f"position_features={list(position_features)}, but the position "
                             f"features of {cls.name} systems {theirs}")

    @property
    def position_features(self) -> Optional[List[int]]:
        r"""The features that are positions: the feature group
        ``"position"`` (:obj:`None` for a system without one)."""
        return self.feature_groups.get("position")

    @property
    def key(self) -> str:
        r"""Hash of all parameters that define the data."""
        fields = {"name": self.name, **self.params}
        if self.key_physics:
            physics = self.physics
            fields["key_physics"] = {name: physics[name] for name in self.key_physics}
        canonical = json.dumps(fields, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def processed_dir(self) -> str:
        n = self.params["num_nodes"]
        return osp.join(self.root, "processed", f"{self.name}-n{n}-{self.key}")

    @property
    def raw_file_names(self) -> List[str]:
        return []

    @property
    def processed_file_names(self) -> List[str]:
        return [f"{split}.pt" for split in SPLITS] + ["meta.json"]

    def simulate(self, num_sims: int, length: int, seed: int) -> Simulation:
        r"""Simulates ``num_sims`` systems: their raw features
        ``[num_sims, T, N, F]``, a function giving candidate edges' types and
        one counting the true relations (:class:`Simulation`; a plain pair
        of the first two leaves :attr:`candidate_recall` unknown)."""
        raise NotImplementedError

    @property
    def candidate_recall(self) -> Optional[float]:
        r"""The fraction of the split's true relations that are candidate
        edges, over all its systems:

        .. math::
            \text{recall} = \frac{\sum_s \lvert R_s \cap C_s \rvert}
            {\sum_s \lvert R_s \rvert}

        with :math:`R_s` the directed pairs of system :math:`s` that interact
        (of nonzero type; for charged particles with a cut-off, the pairs
        that come within it, see :class:`~torch_nri.datasets.ChargedDataset`),
        counted once per step where the relations change over time, and
        :math:`C_s` its candidate edges (the ``graph`` and ``k`` arguments,
        and ``pre_transform``; not ``transform``). A relation that is no
        candidate edge cannot be inferred. 1.0 for the fully connected graph,
        and where there are no true relations; :obj:`None` for a cache
        written before torch_nri measured it. Measured when the split is
        simulated and kept in the cache's ``meta.json``."""
        return self._candidate_recall

    def graph_of(self) -> Callable[[torch.Tensor], torch.Tensor]:
        r"""The candidate graph of one system's raw trajectories ``[N, T, F]``:
        :func:`~torch_nri.graphs.candidate_graph` of the ``graph``, ``k`` and
        ``graph_radius`` arguments and the system's :attr:`position_features`,
        over every step where :attr:`relations_change`."""
        p = self.params
        return candidate_graph(p["graph"], p["k"], p["num_nodes"], p.get("graph_radius"),
                               self.position_features, all_steps=self.relations_change)

    def _simulate(self, num_sims: int, length: int, seed: int) -> Any:
        return self.simulator(num_sims, self.params["num_nodes"], length,
                              self.params["sample_freq"], seed, progress=self.progress,
                              **self.physics)

    def denormalize(self, x):
        r"""Maps normalised trajectories or predictions back to raw units."""
        return self.stats.denormalize(x)

    def process(self) -> None:
        remove_temporaries(self.processed_dir)  # of a generation killed mid-write
        stats = None
        recall: Dict[str, Optional[float]] = {}
        for index, split in enumerate(SPLITS):
            seed = int(np.random.SeedSequence([self.params["seed"], index]).generate_state(1)[0])
            data_list, stats, recall[split] = self._generate(split, seed, stats)
            data, slices = self.collate(data_list)
            atomic_torch_save((data.to_dict(), slices, data.__class__), self.processed_paths[index])
        meta = {"name": self.name, "params": self.params, "stats": stats.to_dict(),
                "candidate_recall": recall}
        atomic_write_text(json.dumps(meta, indent=2, default=str), self.processed_paths[-1])

    def resimulated(self, draw: int) -> "SimulatedDataset":
        r"""This split drawn anew: as many new systems of the same system,
        physics and candidate graph, simulated from the split's ``draw``-th
        seed (draw 0 is the split itself) and normalised with the training
        split's statistics, so that the model sees them in the units it was
        built for. Held in memory, never cached: the fresh systems of every
        epoch (:class:`~torch_nri.training.TrainConfig` ``fresh_systems``).
        A draw gives the same systems every time it is made."""
        check_int(draw, "draw", 0)
        if draw == 0:
            return self
        index = SPLITS.index(self.split)
        seed = int(np.random.SeedSequence([self.params["seed"], index, draw])
                   .generate_state(1)[0])
        data_list, _, recall = self._generate(self.split, seed, self.stats)
        # The same class, attributes and statistics; a store of its own (as
        # InMemoryDataset.copy makes, without collating this split first).
        other = copy.copy(self)
        other._indices, other._data_list, other._candidate_recall = None, None, recall
        other._data, other.slices = self.collate(data_list)
        return other

    def _generate(self, split: str, seed: int, stats: Optional[MinMaxStats]
                  ) -> Tuple[List[Data], MinMaxStats, Optional[float]]:
        # The systems of one split simulated from ``seed``, normalised with
        # ``stats`` (None: fitted to them, as for the training split), with
        # the statistics and the candidate graphs' recall of the relations.
        p = self.params
        size = dict(train=p["num_train"], valid=p["num_valid"], test=p["num_test"])[split]
        length = p["test_length"] if split == "test" else p["length"]
        features, edge_types, counts = Simulation(*self.simulate(size, length, seed))
        if not np.isfinite(features).all():  # checked once here, not in every step
            raise ValueError(f"the {self.name} simulation of the {split} split produced "
                             f"{int((~np.isfinite(features)).sum())} non-finite values; "
                             f"check the physics {self.params['physics']}")
        if stats is None:
            stats = MinMaxStats.fit(features, self.feature_groups)
        x = torch.from_numpy(stats.normalize(features)).transpose(1, 2)  # [S, N, T, F]
        raw = torch.from_numpy(features).transpose(1, 2)
        graph_of = self.graph_of()
        data_list = []
        for s in range(x.size(0)):
            try:  # of the raw positions: a radius in the simulator's units
                edge_index = graph_of(raw[s])
            except ValueError as error:
                raise ValueError(f"the {self.name} {split} split, system {s}: "
                                 f"{error}") from None
            data_list.append(self._make_item(x[s], edge_index, edge_types, s))
        if self.pre_transform is not None:
            data_list = [self.pre_transform(d) for d in data_list]
        recall = None if counts is None else self._recall(counts, data_list)
        return data_list, stats, recall

    @staticmethod
    def _recall(counts: RelationCountFn, data_list: List[Data]) -> float:
        # True relations among the candidates over all true relations, all systems.
        found = total = 0
        for system, item in enumerate(data_list):
            senders, receivers = item.edge_index.numpy()
            system_found, system_total = counts(system, senders, receivers)
            found, total = found + system_found, total + system_total
        return found / total if total else 1.0

    @staticmethod
    def _make_item(x: torch.Tensor, edge_index: torch.Tensor, edge_types: EdgeTypeFn,
                   system: int) -> Data:
        senders, receivers = edge_index.numpy()
        edge_type = torch.as_tensor(np.asarray(edge_types(system, senders, receivers)),
                                    dtype=torch.long)
        return Data(x=x.contiguous(), edge_index=edge_index, edge_type=edge_type)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({len(self)}, split={self.split!r}, "
                f"num_nodes={self.params['num_nodes']}, graph={self.params['graph']!r})")
