r"""Motion capture trials as NRI data: joint positions and velocities of the
Acclaim files read by :mod:`torch_nri.datasets.acclaim`.

The NRI motion capture experiments use the walking trials of subject 35 of
the CMU Motion Capture Database: the 3-D positions and velocities of the 31
joints of the CMU skeleton (30 bones plus the root), :math:`F = 6` features.
No data is downloaded: point :func:`load_mocap` or :class:`MocapDataset` at
the files.
"""
import glob
import os
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch_geometric.data import Data, InMemoryDataset

from torch_nri.datasets.acclaim import PathLike, joint_positions, read_amc, read_asf
from torch_nri.datasets.normalization import MinMaxStats
from torch_nri.graphs import fully_connected_edge_index
from torch_nri.protocol import OBSERVED_STEPS

#: Feature groups of a joint's state: 3-D position and velocity.
MOCAP_FEATURE_GROUPS = {"position": [0, 1, 2], "velocity": [3, 4, 5]}


def load_mocap(asf_path: PathLike, amc_paths: Union[PathLike, Sequence[PathLike]],
               sample_every: int = 1) -> List[np.ndarray]:
    """Loads motion capture trials as joint positions and velocities.

    Each trial keeps every ``sample_every``-th frame (starting with the
    first), computes the joint positions, and the velocities as the
    difference of the positions of consecutive kept frames (length units per
    kept frame). The first kept frame has no velocity and is dropped, so a
    trial of :math:`T` kept frames gives :math:`T - 1` steps.

    Args:
        asf_path (str or os.PathLike): The ``.asf`` skeleton file.
        amc_paths (str or os.PathLike or sequence of them): The ``.amc``
            motion files, one per trial.
        sample_every (int, optional): Keep one frame in this many.
            (default: ``1``)

    Returns:
        list of numpy.ndarray: One array per ``.amc`` file, in the given
        order, of shape ``[T - 1, num_joints, 6]``: positions ``[..., :3]``
        and velocities ``[..., 3:]``, joints in the order of
        ``read_asf(asf_path).joint_names``.

    Raises:
        FileNotFoundError: If a file does not exist.
        ValueError: If ``sample_every`` is not a positive integer, a file
            does not parse or match the skeleton, or a trial keeps fewer
            than 2 frames.
    """
    if not isinstance(sample_every, int) or sample_every < 1:
        raise ValueError(f"'sample_every' must be a positive integer, got {sample_every!r}")
    if isinstance(amc_paths, (str, os.PathLike)):
        amc_paths = [amc_paths]
    skeleton = read_asf(asf_path)
    trials = []
    for amc_path in amc_paths:
        frames = read_amc(amc_path, skeleton)[::sample_every]
        if len(frames) < 2:
            raise ValueError(f"{amc_path}: needs at least 2 frames to compute velocities, "
                             f"got {len(frames)} with sample_every={sample_every}")
        positions = joint_positions(skeleton, frames)
        velocities = np.diff(positions, axis=0)
        trials.append(np.concatenate([positions[1:], velocities], axis=-1))
    return trials


class MocapDataset(InMemoryDataset):
    r"""Windows of motion capture trials as NRI systems: every window of
    ``num_steps`` consecutive steps of each trial (:func:`load_mocap`),
    ``stride`` steps apart, is one item with ``x`` ``[J, T, 6]`` (the
    :math:`J` joints' positions and velocities) and the fully connected
    candidate graph over the joints; there are no true relations.

    Features are min-max scaled to :math:`[-1, 1]` per group
    (:data:`MOCAP_FEATURE_GROUPS`: positions, velocities) with ``stats``, or
    with statistics fitted on these windows when ``stats`` is :obj:`None`
    (fit them on the training trials and pass them to the others).

    Args:
        asf_path (str or os.PathLike): The ``.asf`` skeleton file.
        amc_paths (sequence of str or os.PathLike): The ``.amc`` trials.
        num_steps (int, optional): Steps :math:`T` per window.
            (default: :obj:`49`)
        stride (int, optional): Steps between the starts of two windows.
            (default: ``num_steps``, windows that do not overlap)
        sample_every (int, optional): Keep one frame in this many.
            (default: :obj:`1`)
        stats (MinMaxStats, optional): Normalisation. (default: fitted)
        transform (callable, optional): As in PyG.
    """
    def __init__(self, asf_path: PathLike, amc_paths: Union[PathLike, Sequence[PathLike]],
                 num_steps: int = OBSERVED_STEPS, stride: Optional[int] = None, sample_every: int = 1,
                 stats: Optional[MinMaxStats] = None,
                 transform: Optional[Callable] = None) -> None:
        super().__init__(None, transform)
        stride = num_steps if stride is None else stride
        for name, value in (("num_steps", num_steps), ("stride", stride)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
        trials = load_mocap(asf_path, amc_paths, sample_every)
        windows = [trial[start:start + num_steps] for trial in trials
                   for start in range(0, trial.shape[0] - num_steps + 1, stride)]
        if not windows:
            longest = max(trial.shape[0] for trial in trials)
            raise ValueError(f"no trial has {num_steps} steps (num_steps) to cut a window "
                             f"from; the longest has {longest}")
        x = np.stack(windows)  # [windows, T, J, 6]
        self.stats = stats if stats is not None else MinMaxStats.fit(x, MOCAP_FEATURE_GROUPS)
        x = torch.as_tensor(self.stats.normalize(x), dtype=torch.float32)
        edge_index = fully_connected_edge_index(x.size(2))
        self.data, self.slices = self.collate(
            [Data(x=window.transpose(0, 1).contiguous(), edge_index=edge_index)
             for window in x])

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({len(self)})"


@dataclass(frozen=True)
class MocapProtocol:
    r"""How a paper splits and cuts the CMU subject 35 walking trials.

    Attributes:
        num_train (int): The first trials (by file name) for training.
        num_valid (int): The next trials for validation; the rest are the
            test trials.
        num_steps (int): Steps of a training or validation window
            (non-overlapping windows of each trial).
        test_steps (int): Steps of a test window.
        scaling (str): ``"min-max"``, each group (positions, velocities) to
            :math:`[-1, 1]` with the training windows' extremes; or
            ``"max-abs"``, divided by the training windows' largest absolute
            value.
    """
    num_train: int
    num_valid: int
    num_steps: int
    test_steps: int
    scaling: str


#: The protocols of the papers: NRI (Kipf et al., 2018, section 5.2 and
#: supplement D.2: 11 / 4 / 7 trials, windows of 49 steps, test windows of
#: 99, features scaled to a largest absolute value of 1; the paper does not
#: say which trials go where, so they are taken in file-name order) and
#: dNRI (the dNRI code's CMU preprocessing: the sorted ``.amc`` files, the
#: first 12 for training, the next 4 for validation, the rest for testing;
#: windows of 50 and 100 steps; positions and velocities min-max scaled to
#: :math:`[-1, 1]` with the training windows' extremes).
MOCAP_PROTOCOLS: Dict[str, MocapProtocol] = {
    "nri": MocapProtocol(11, 4, 49, 99, "max-abs"),
    "dnri": MocapProtocol(12, 4, 50, 100, "min-max"),
}


def mocap_splits(root: PathLike, protocol: str = "dnri", sample_every: int = 1
                 ) -> Tuple[MocapDataset, MocapDataset, MocapDataset]:
    r"""The training, validation and test :class:`MocapDataset` of the CMU
    subject 35 walking trials as a paper splits them
    (:data:`MOCAP_PROTOCOLS`): point ``root`` at a directory holding the
    subject's ``.asf`` skeleton and its walking trials' ``.amc`` files
    (``35_01.amc``, ...; nothing is downloaded). Every split is scaled with
    the statistics of the training windows.

    Args:
        root (str or os.PathLike): The directory of the files.
        protocol (str, optional): ``"nri"`` or ``"dnri"``. (default: ``"dnri"``)
        sample_every (int, optional): Keep one frame in this many
            (:func:`load_mocap`). (default: :obj:`1`, as both papers)
    """
    if protocol not in MOCAP_PROTOCOLS:
        raise ValueError(f"'protocol' must be one of {sorted(MOCAP_PROTOCOLS)}, got "
                         f"{protocol!r}")
    split = MOCAP_PROTOCOLS[protocol]
    skeletons = sorted(glob.glob(os.path.join(os.fspath(root), "*.asf")))
    trials = sorted(glob.glob(os.path.join(os.fspath(root), "*.amc")))
    if len(skeletons) != 1:
        raise ValueError(f"{root} must hold one .asf skeleton file, found {len(skeletons)}")
    if len(trials) <= split.num_train + split.num_valid:
        raise ValueError(f"the {protocol} protocol needs more than {split.num_train} + "
                         f"{split.num_valid} trials (training + validation) in {root}, "
                         f"found {len(trials)} .amc files")
    train, valid = trials[:split.num_train], trials[split.num_train:][:split.num_valid]
    test = trials[split.num_train + split.num_valid:]
    # The statistics of the training windows (fitted by the dataset).
    train_set = MocapDataset(skeletons[0], train, split.num_steps, sample_every=sample_every)
    stats = train_set.stats
    if split.scaling == "max-abs":  # min-max over [-M, M] is division by M
        largest = [max(abs(lo), abs(hi)) for lo, hi in zip(stats.minimum, stats.maximum)]
        stats = MinMaxStats(stats.groups, [-m for m in largest], largest, stats.names)
        train_set = MocapDataset(skeletons[0], train, split.num_steps,
                                 sample_every=sample_every, stats=stats)
    return (train_set,
            MocapDataset(skeletons[0], valid, split.num_steps, sample_every=sample_every,
                         stats=stats),
            MocapDataset(skeletons[0], test, split.test_steps, sample_every=sample_every,
                         stats=stats))
