r"""Acclaim motion capture files: ``.asf`` skeletons and ``.amc`` motions (the
format of the CMU Motion Capture Database), parsed, with the forward
kinematics that turns joint angles into joint positions
(:mod:`torch_nri.datasets.mocap` builds datasets from them):

* ``.asf`` (skeleton): sections ``:units``, ``:root``, ``:bonedata`` (one
  ``begin ... end`` block per bone) and ``:hierarchy``.
* ``.amc`` (motion): header lines (``#`` comments, ``:FULLY-SPECIFIED``,
  ``:DEGREES``), then for each frame a line with the frame number followed
  by one line ``name v1 v2 ...`` per bone.

Forward kinematics: the ``axis`` of a bone gives the rotation :math:`C` of
its local frame relative to the world, and its ``.amc`` values the rotation
:math:`M` about the axes of that local frame. The global rotation of a bone
is :math:`R = R_\text{parent} \, C M C^{-1}` and its end point, the joint,
lies at the parent's joint plus :math:`R \cdot (\text{direction} \cdot
\text{length})`. The root's rotation is :math:`C M C^{-1}` with :math:`C`
from its ``orientation`` and :math:`M` from its ``RX RY RZ`` channels.

Euler angles: ``XYZ`` means rotating about X first, then Y, then Z about
fixed axes, i.e. the matrix :math:`R_z R_y R_x` for column vectors. This is
scipy's *extrinsic* (lowercase) sequence ``"xyz"``, which is why the order
strings are passed lowercased to :meth:`Rotation.from_euler`.

Where the format leaves room, this module reads: the three ``axis`` (and
root ``orientation``) angles as the angles about X, Y and Z, the order string
only saying which is applied first; ``.amc`` values in the ``.asf`` angle
unit; positions in the files' length units, unscaled. A frame missing the
line of a bone with a dof is an error (CMU files are fully specified).
"""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from scipy.spatial.transform import Rotation

PathLike = Union[str, os.PathLike]
Frame = Dict[str, np.ndarray]
_Lines = List[Tuple[int, List[str]]]

_ROOT = "root"
_ROOT_CHANNELS = ("TX", "TY", "TZ", "RX", "RY", "RZ")
_DOFS = ("rx", "ry", "rz")


@dataclass(frozen=True, eq=False)
class Bone:
    """One bone of an ``.asf`` skeleton.

    Attributes:
        id (int): The bone's ``id``.
        name (str): The bone's ``name``.
        direction (numpy.ndarray): Unit direction ``(3,)`` of the bone in the
            world frame at rest.
        length (float): Length of the bone, in the file's length units.
        axis (numpy.ndarray): Angles ``(3,)`` about X, Y and Z of the bone's
            local frame, in the skeleton's angle unit.
        axis_order (str): Order in which the ``axis`` angles are applied,
            e.g. ``"XYZ"`` (X first).
        dof (tuple of str): The rotational degrees of freedom in the order
            of the ``.amc`` values, e.g. ``("rx", "ry", "rz")``; empty for a
            rigid bone.
    """
    id: int
    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    axis_order: str
    dof: Tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Skeleton:
    """An ``.asf`` skeleton.

    Attributes:
        units (dict): The ``:units`` section, e.g. ``{"mass": "1.0",
            "length": "0.45", "angle": "deg"}``; ``"angle"`` is always set
            (``"deg"`` when the file does not say).
        root_order (tuple of str): The root's ``.amc`` channels, e.g.
            ``("TX", "TY", "TZ", "RX", "RY", "RZ")``.
        root_axis (str): Order of the root ``orientation`` angles, e.g.
            ``"XYZ"``.
        root_position (numpy.ndarray): Rest position ``(3,)`` of the root.
        root_orientation (numpy.ndarray): Angles ``(3,)`` about X, Y and Z of
            the root's frame, in the skeleton's angle unit.
        bones (dict): Bone name to :class:`Bone`.
        children (dict): Joint name (``"root"`` or a bone) to the tuple of
            its child bones, in ``:hierarchy`` order; empty for a leaf.
        joint_names (list of str): ``"root"`` followed by the bones in
            depth-first pre-order of the hierarchy (children in the order the
            ``:hierarchy`` lists them), so every bone comes after its parent.
            This is the joint order of :func:`joint_positions`.
    """
    units: Dict[str, str]
    root_order: Tuple[str, ...]
    root_axis: str
    root_position: np.ndarray
    root_orientation: np.ndarray
    bones: Dict[str, Bone]
    children: Dict[str, Tuple[str, ...]]
    joint_names: List[str]

    @property
    def degrees(self) -> bool:
        """Whether angles, in the ``.asf`` and the ``.amc``, are in degrees."""
        return self.units["angle"] == "deg"


def read_asf(path: PathLike) -> Skeleton:
    """Reads an Acclaim ``.asf`` skeleton file.

    Args:
        path (str or os.PathLike): The ``.asf`` file.

    Returns:
        Skeleton: The parsed skeleton.

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        ValueError: If the file lacks ``:root``, ``:bonedata`` or
            ``:hierarchy``, a bone lacks a field, a number does not parse,
            a bone has a dof other than ``rx``, ``ry``, ``rz``, or the
            hierarchy names an unknown bone or leaves a bone unconnected.
    """
    path = Path(path)
    sections = _asf_sections(path)
    units = {tokens[0].lower(): tokens[1] for _, tokens in sections.get("units", [])
             if len(tokens) == 2}
    units["angle"] = units.get("angle", "deg").lower()
    if units["angle"] not in ("deg", "rad"):
        raise ValueError(f"{path}: ':units' angle must be 'deg' or 'rad', got '{units['angle']}'")

    root = _fields(_section(sections, "root", path))
    where = f"{path}, ':root'"
    root_order = tuple(channel.upper() for channel in _field(root, "order", where))
    if not set(root_order) <= set(_ROOT_CHANNELS) or len(set(root_order)) != len(root_order):
        raise ValueError(f"{where}: 'order' must list distinct channels of "
                         f"{' '.join(_ROOT_CHANNELS)}, got {' '.join(root_order)}")
    bones = _read_bones(_section(sections, "bonedata", path), path)
    children = _read_hierarchy(_section(sections, "hierarchy", path), bones, path)
    return Skeleton(
        units=units,
        root_order=root_order,
        root_axis=_axis_order(_field(root, "axis", where), where),
        root_position=_floats(_field(root, "position", where), where, 3),
        root_orientation=_floats(_field(root, "orientation", where), where, 3),
        bones=bones,
        children=children,
        joint_names=_depth_first(children),
    )


def read_amc(path: PathLike, skeleton: Optional[Skeleton] = None) -> List[Frame]:
    """Reads an Acclaim ``.amc`` motion file.

    Args:
        path (str or os.PathLike): The ``.amc`` file.
        skeleton (Skeleton, optional): If given, every frame is checked
            against it (see :func:`joint_positions`), and so is a
            ``:DEGREES`` or ``:RADIANS`` header against its angle unit.

    Returns:
        list of dict: One dict per frame, in file order, mapping each bone
        name (and ``"root"``) on that frame's lines to a float array of its
        values.

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        ValueError: If a value does not parse, bone data precede the first
            frame number, a frame repeats a bone, or (with ``skeleton``) a
            frame does not match the skeleton.
    """
    path = Path(path)
    frames: List[Frame] = []
    numbers: List[str] = []
    for lineno, tokens in _read_lines(path):
        where = f"{path}:{lineno}"
        if tokens[0].startswith(":"):
            unit = {":DEGREES": "deg", ":RADIANS": "rad"}.get(tokens[0].upper())
            if skeleton is not None and unit is not None and unit != skeleton.units["angle"]:
                raise ValueError(f"{where}: the motion is in '{unit}' but the skeleton's "
                                 f"angle unit is '{skeleton.units['angle']}'")
        elif len(tokens) == 1 and tokens[0].isdigit():
            frames.append({})
            numbers.append(tokens[0])
        elif not frames:
            raise ValueError(f"{where}: bone data '{tokens[0]}' before the first frame number")
        elif tokens[0] in frames[-1]:
            raise ValueError(f"{where}: bone '{tokens[0]}' appears twice in frame {numbers[-1]}")
        else:
            frames[-1][tokens[0]] = _floats(tokens[1:], where)
    if skeleton is not None:
        for number, frame in zip(numbers, frames):
            _check_frame(skeleton, frame, f"{path}, frame {number}")
    return frames


def joint_positions(skeleton: Skeleton, frames: Sequence[Frame]) -> np.ndarray:
    """Forward kinematics: the 3-D joint positions of each frame.

    The joints are the root followed by the end point of each bone, in the
    order of ``skeleton.joint_names``. The root lies at its ``TX TY TZ``
    values; a translation channel missing from ``root_order`` takes the
    ``.asf`` root position. The computation loops over bones and is
    vectorised over frames.

    Args:
        skeleton (Skeleton): The skeleton, from :func:`read_asf`.
        frames (sequence of dict): Frames, from :func:`read_amc`. Every frame
            must hold the root and every bone with a dof, each with one value
            per channel or dof; a bone without dof may be left out.

    Returns:
        numpy.ndarray: Positions of shape ``[num_frames, num_joints, 3]``, in
        the file's length units.

    Raises:
        ValueError: If a frame names a bone not in the skeleton, holds the
            wrong number of values for a bone, or misses a bone with a dof.
    """
    for index, frame in enumerate(frames):
        _check_frame(skeleton, frame, f"frame index {index}")
    num_frames, degrees = len(frames), skeleton.degrees

    root_values = _stack_values(frames, _ROOT, len(skeleton.root_order))
    position = np.tile(skeleton.root_position, (num_frames, 1))
    rotation_channels = []
    for column, channel in enumerate(skeleton.root_order):
        if channel.startswith("T"):
            position[:, "XYZ".index(channel[1])] = root_values[:, column]
        else:
            rotation_channels.append(column)
    motion = _euler("".join(skeleton.root_order[c][1] for c in rotation_channels),
                    root_values[:, rotation_channels], degrees, num_frames)
    frame_axes = _axis_rotation(skeleton.root_orientation, skeleton.root_axis, degrees)
    rotations = {_ROOT: frame_axes * motion * frame_axes.inv()}
    positions = {_ROOT: position}

    parents = {child: parent for parent, kids in skeleton.children.items() for child in kids}
    for name in skeleton.joint_names[1:]:
        bone, parent = skeleton.bones[name], parents[name]
        motion = _euler("".join(dof[1] for dof in bone.dof),
                        _stack_values(frames, name, len(bone.dof)), degrees, num_frames)
        frame_axes = _axis_rotation(bone.axis, bone.axis_order, degrees)
        rotations[name] = rotations[parent] * frame_axes * motion * frame_axes.inv()
        positions[name] = positions[parent] + rotations[name].apply(bone.direction * bone.length)
    return np.stack([positions[name] for name in skeleton.joint_names], axis=1)


def _stack_values(frames: Sequence[Frame], name: str, count: int) -> np.ndarray:
    # [num_frames, count]; a bone without values (count 0) may be absent.
    return np.array([frame.get(name, ()) for frame in frames], dtype=float).reshape(
        len(frames), count)


def _euler(axes: str, angles: np.ndarray, degrees: bool, num_frames: int) -> Rotation:
    # A stack of num_frames rotations about `axes` (e.g. "XZ"), the first
    # named axis applied first. Lowercase is scipy's extrinsic (fixed axes)
    # convention, under which "xyz" means X first and gives Rz @ Ry @ Rx.
    if not axes:
        return Rotation.identity(num_frames)
    return Rotation.from_euler(axes.lower(), angles, degrees=degrees)


def _axis_rotation(angles: np.ndarray, order: str, degrees: bool) -> Rotation:
    # The .asf lists the angles about X, Y and Z; `order` only says which
    # rotation is applied first.
    order = order.lower()
    return Rotation.from_euler(order, [angles["xyz".index(a)] for a in order], degrees=degrees)


def _check_frame(skeleton: Skeleton, frame: Frame, where: str) -> None:
    for name, values in frame.items():
        if name == _ROOT:
            expected = skeleton.root_order
        elif name in skeleton.bones:
            expected = skeleton.bones[name].dof
        else:
            raise ValueError(f"{where}: bone '{name}' is not in the skeleton")
        if np.shape(values) != (len(expected),):
            raise ValueError(f"{where}: bone '{name}' needs {len(expected)} values "
                             f"({' '.join(expected)}), got {np.size(values)}")
    missing = [name for name, bone in skeleton.bones.items() if bone.dof and name not in frame]
    if skeleton.root_order and _ROOT not in frame:
        missing.insert(0, _ROOT)
    if missing:
        raise ValueError(f"{where}: no values for {', '.join(missing)}")


def _read_lines(path: Path) -> _Lines:
    # Non-empty lines as (line number, tokens), without '#' comments.
    if not path.is_file():
        raise FileNotFoundError(f"mocap file not found: {path}")
    lines = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            tokens = line.split("#", 1)[0].split()
            if tokens:
                lines.append((lineno, tokens))
    return lines


def _asf_sections(path: Path) -> Dict[str, _Lines]:
    # Section keyword (without ':') to its lines; a value on the keyword's
    # own line (":version 1.10") is its first line.
    sections: Dict[str, _Lines] = {}
    current = None
    for lineno, tokens in _read_lines(path):
        if tokens[0].startswith(":"):
            current = tokens[0][1:].lower()
            if current in sections:
                raise ValueError(f"{path}:{lineno}: section ':{current}' appears twice")
            sections[current] = [(lineno, tokens[1:])] if tokens[1:] else []
        elif current is None:
            raise ValueError(f"{path}:{lineno}: '{tokens[0]}' before the first section")
        else:
            sections[current].append((lineno, tokens))
    return sections


def _section(sections: Dict[str, _Lines], name: str, path: Path) -> _Lines:
    if name not in sections:
        raise ValueError(f"{path}: no ':{name}' section")
    return sections[name]


def _fields(lines: _Lines) -> Dict[str, List[str]]:
    # Keyword to values; '(' lines continue a 'limits' field and are skipped.
    fields = {}
    for _, tokens in lines:
        if not tokens[0].startswith("("):
            fields[tokens[0].lower()] = tokens[1:]
    return fields


def _field(fields: Dict[str, List[str]], key: str, where: str) -> List[str]:
    if key not in fields:
        raise ValueError(f"{where}: missing '{key}'")
    return fields[key]


def _floats(tokens: List[str], where: str, count: Optional[int] = None) -> np.ndarray:
    if count is not None and len(tokens) != count:
        raise ValueError(f"{where}: expected {count} numbers, got {' '.join(tokens) or 'none'}")
    try:
        return np.array([float(token) for token in tokens])
    except ValueError:
        raise ValueError(f"{where}: expected numbers, got {' '.join(tokens)}") from None


def _axis_order(tokens: List[str], where: str) -> str:
    order = "".join(tokens).upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise ValueError(f"{where}: the axis order must be a permutation of XYZ, got '{order}'")
    return order


def _read_bones(lines: _Lines, path: Path) -> Dict[str, Bone]:
    blocks: List[Tuple[int, _Lines]] = []
    block: Optional[_Lines] = None
    for lineno, tokens in lines:
        keyword = tokens[0].lower()
        if keyword == "begin" and block is None:
            block = []
            blocks.append((lineno, block))
        elif keyword == "end" and block is not None:
            block = None
        elif block is None:
            raise ValueError(f"{path}:{lineno}: ':bonedata' line outside a begin/end block")
        else:
            block.append((lineno, tokens))
    if block is not None:
        raise ValueError(f"{path}: ':bonedata' block without 'end'")

    bones: Dict[str, Bone] = {}
    for begin, block in blocks:
        where = f"{path}:{begin}, ':bonedata' block"
        fields = _fields(block)
        name = _field(fields, "name", where)
        if len(name) != 1:
            raise ValueError(f"{where}: 'name' must be one word, got {' '.join(name) or 'none'}")
        name = name[0]
        where = f"{path}, bone '{name}'"
        if name == _ROOT or name in bones:
            raise ValueError(f"{where}: the name is used twice or is 'root'")
        bone_id = _floats(_field(fields, "id", where), where, 1)[0]
        direction = _floats(_field(fields, "direction", where), where, 3)
        norm = np.linalg.norm(direction)
        if norm == 0:
            raise ValueError(f"{where}: the direction is zero")
        axis = _field(fields, "axis", where)
        dof = tuple(d.lower() for d in fields.get("dof", []))
        if not set(dof) <= set(_DOFS) or len(set(dof)) != len(dof):
            raise ValueError(f"{where}: only distinct rotational dofs {', '.join(_DOFS)} "
                             f"are supported, got {' '.join(dof)}")
        bones[name] = Bone(
            id=int(bone_id),
            name=name,
            direction=direction / norm,
            length=float(_floats(_field(fields, "length", where), where, 1)[0]),
            axis=_floats(axis[:3], where, 3),
            axis_order=_axis_order(axis[3:], where),
            dof=dof,
        )
    return bones


def _read_hierarchy(lines: _Lines, bones: Dict[str, Bone],
                    path: Path) -> Dict[str, Tuple[str, ...]]:
    children: Dict[str, List[str]] = {name: [] for name in [_ROOT, *bones]}
    parents: Dict[str, str] = {}
    for lineno, tokens in lines:
        if tokens[0].lower() in ("begin", "end"):
            continue
        for name in tokens:
            if name not in children:
                raise ValueError(f"{path}:{lineno}: ':hierarchy' names unknown bone '{name}'")
        parent, *kids = tokens
        for kid in kids:
            if kid == _ROOT or kid in parents:
                raise ValueError(f"{path}:{lineno}: '{kid}' cannot be a child of '{parent}', "
                                 f"it is the root or already has a parent")
            parents[kid] = parent
            children[parent].append(kid)
    children = {name: tuple(kids) for name, kids in children.items()}
    unconnected = set(bones) - set(_depth_first(children))
    if unconnected:
        raise ValueError(f"{path}: ':hierarchy' does not connect "
                         f"{', '.join(sorted(unconnected))} to the root")
    return children


def _depth_first(children: Dict[str, Tuple[str, ...]]) -> List[str]:
    # Pre-order from the root, children in hierarchy order.
    order, stack = [], [_ROOT]
    while stack:
        name = stack.pop()
        order.append(name)
        stack.extend(reversed(children[name]))
    return order
