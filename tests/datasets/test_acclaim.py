import math

import numpy as np
import pytest

from torch_nri.datasets.acclaim import joint_positions, read_amc, read_asf

# A chain root -> a -> b -> c along +X, +Y, +Z. b's direction is not unit
# length on purpose: read_asf normalises it.
CHAIN = {"a": ("1 0 0", 2.0), "b": ("0 2 0", 3.0), "c": ("0 0 1", 1.0)}
CHAIN_HIERARCHY = ("root a", "a b", "b c")
CMU_HIERARCHY = (
    "root lhipjoint rhipjoint lowerback", "lhipjoint lfemur", "lfemur ltibia",
    "ltibia lfoot", "lfoot ltoes", "rhipjoint rfemur", "rfemur rtibia", "rtibia rfoot",
    "rfoot rtoes", "lowerback upperback", "upperback thorax",
    "thorax lowerneck lclavicle rclavicle", "lowerneck upperneck", "upperneck head",
    "lclavicle lhumerus", "lhumerus lradius", "lradius lwrist", "lwrist lhand lthumb",
    "lhand lfingers", "rclavicle rhumerus", "rhumerus rradius", "rradius rwrist",
    "rwrist rhand rthumb", "rhand rfingers",
)

# Hand-written rotation matrices (column vectors) by 90 degrees.
RX90 = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
RY90 = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]])
RZ90 = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]])


def rot_x(degrees):
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_z(degrees):
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def bone_block(bone_id, name, direction, length, axis="0 0 0 XYZ", dof="rx ry rz"):
    lines = ["  begin", f"    id {bone_id}", f"    name {name}", f"    direction {direction}",
             f"    length {length}", f"    axis {axis}"]
    if dof:
        lines.append(f"    dof {dof}")
        # Only the first limits line holds the keyword; the others continue it.
        lines += ["    limits (-180.0 180.0)"] + ["           (-180.0 180.0)"] * dof.count(" ")
    return "\n".join(lines + ["  end"])


def write_asf(path, bones=None, hierarchy=CHAIN_HIERARCHY, angle="deg",
              root_order="TX TY TZ RX RY RZ", orientation="0 0 0", omit=()):
    """Writes an .asf; ``bones`` maps name -> (direction, length[, axis[, dof]])."""
    bones = CHAIN if bones is None else bones
    blocks = [bone_block(i + 1, name, *spec) for i, (name, spec) in enumerate(bones.items())]
    sections = {
        "version": ":version 1.10",
        "name": ":name VICON",
        "units": f":units\n  mass 1.0\n  length 0.45\n  angle {angle}",
        "documentation": ":documentation\n  A tiny test skeleton.",
        "root": (f":root\n  order {root_order}\n  axis XYZ\n  position 0 0 0\n"
                 f"  orientation {orientation}"),
        "bonedata": ":bonedata\n" + "\n".join(blocks),
        "hierarchy": ":hierarchy\n  begin\n" + "\n".join(
            f"    {line}" for line in hierarchy) + "\n  end",
    }
    path.write_text("# AMC-style comment\n" + "\n".join(
        text for key, text in sections.items() if key not in omit) + "\n")
    return path


def write_amc(path, frames, header=(":FULLY-SPECIFIED", ":DEGREES")):
    """Writes an .amc; ``frames`` is a list of dicts name -> values."""
    lines = ["# written by a test", *header]
    for number, frame in enumerate(frames, start=1):
        lines.append(str(number))
        lines += [" ".join([name, *map(str, values)]) for name, values in frame.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def pose(root=(0, 0, 0, 0, 0, 0), **rotations):
    """A frame of the chain skeleton: zero rotations unless given."""
    frame = {"root": root, "a": (0, 0, 0), "b": (0, 0, 0), "c": (0, 0, 0)}
    frame.update(rotations)
    return frame


def positions(tmp_path, frames, **asf_kwargs):
    skeleton = read_asf(write_asf(tmp_path / "s.asf", **asf_kwargs))
    return joint_positions(skeleton, read_amc(write_amc(tmp_path / "m.amc", frames), skeleton))


def chain_at(root, *offsets):
    """Joint positions of the chain: the root, then cumulative bone offsets."""
    return np.asarray(root, dtype=float) + np.cumsum([(0, 0, 0), *offsets], axis=0)


def test_read_asf_parses_the_skeleton(tmp_path):
    skeleton = read_asf(write_asf(tmp_path / "s.asf", bones={
        "a": ("1 0 0", 2.0, "0 0 30 ZYX"), "b": ("0 2 0", 3.0, "0 0 0 XYZ", "rz rx"),
        "c": ("0 0 1", 1.0, "0 0 0 XYZ", "")}))
    assert skeleton.units == {"mass": "1.0", "length": "0.45", "angle": "deg"}
    assert skeleton.degrees
    assert skeleton.root_order == ("TX", "TY", "TZ", "RX", "RY", "RZ")
    assert skeleton.root_axis == "XYZ"
    np.testing.assert_array_equal(skeleton.root_position, [0, 0, 0])
    a, b, c = (skeleton.bones[name] for name in "abc")
    assert (a.id, a.name, a.length, a.axis_order, a.dof) == (1, "a", 2.0, "ZYX", ("rx", "ry", "rz"))
    np.testing.assert_array_equal(a.axis, [0, 0, 30])
    np.testing.assert_allclose(b.direction, [0, 1, 0])
    assert b.dof == ("rz", "rx") and c.dof == ()
    assert skeleton.children == {"root": ("a",), "a": ("b",), "b": ("c",), "c": ()}
    assert skeleton.joint_names == ["root", "a", "b", "c"]


def test_joint_order_is_depth_first_from_the_hierarchy(tmp_path):
    bones = {name: ("1 0 0", 1.0) for name in ["d", "c", "b", "a"]}
    skeleton = read_asf(write_asf(tmp_path / "s.asf", bones=bones,
                                  hierarchy=("root a d", "a b", "b c")))
    assert skeleton.joint_names == ["root", "a", "b", "c", "d"]


def test_zero_rotations_give_cumulative_offsets_from_the_root(tmp_path):
    out = positions(tmp_path, [pose(root=(1, 2, 3, 0, 0, 0))])
    np.testing.assert_allclose(out[0], chain_at((1, 2, 3), (2, 0, 0), (0, 3, 0), (0, 0, 1)))


def test_rotation_about_z_turns_a_bone_from_x_to_y(tmp_path):
    out = positions(tmp_path, [pose(root=(1, 2, 3, 0, 0, 0), a=(0, 0, 90))])
    # a: (2, 0, 0) -> (0, 2, 0); its children turn with it: (0, 3, 0) -> (-3, 0, 0).
    np.testing.assert_allclose(out[0], chain_at((1, 2, 3), (0, 2, 0), (-3, 0, 0), (0, 0, 1)),
                               atol=1e-12)


def test_bone_axis_conjugates_the_motion_rotation(tmp_path):
    # C = Rz(90): the bone's local X axis is the world's Y axis, so a motion
    # rx = 90 rotates about world Y: C @ Rx(90) @ C^-1 = Ry(90).
    local = RZ90 @ RX90 @ RZ90.T
    np.testing.assert_array_equal(local, RY90)
    bones = dict(CHAIN, a=("1 0 0", 2.0, "0 0 90 XYZ"))
    out = positions(tmp_path, [pose(a=(90, 0, 0))], bones=bones)
    offsets = [local @ (2, 0, 0), local @ (0, 3, 0), local @ (0, 0, 1)]
    np.testing.assert_allclose(out[0], chain_at((0, 0, 0), *offsets), atol=1e-12)
    np.testing.assert_allclose(offsets, [(0, 0, -2), (0, 3, 0), (1, 0, 0)], atol=1e-12)


def test_dof_order_is_the_order_of_application(tmp_path):
    # "rx ry rz" = X first: Ry(90) @ Rx(90) @ (2, 0, 0) = (0, 0, -2).
    out = positions(tmp_path, [pose(a=(90, 90, 0))])
    np.testing.assert_allclose(out[0, 1], (0, 0, -2), atol=1e-12)
    np.testing.assert_allclose(RY90 @ RX90 @ (2, 0, 0), (0, 0, -2))
    # "ry rx" = Y first: Rx(90) @ Ry(90) @ (2, 0, 0) = (0, 2, 0).
    bones = dict(CHAIN, a=("1 0 0", 2.0, "0 0 0 XYZ", "ry rx"))
    out = positions(tmp_path, [pose(a=(90, 90))], bones=bones)
    np.testing.assert_allclose(out[0, 1], (0, 2, 0), atol=1e-12)
    np.testing.assert_allclose(RX90 @ RY90 @ (2, 0, 0), (0, 2, 0))


@pytest.mark.parametrize("order, frame_axes", [
    ("XYZ", rot_z(60) @ rot_x(30)),  # X first
    ("ZYX", rot_x(30) @ rot_z(60)),  # Z first
])
def test_axis_angles_are_about_xyz_applied_in_the_given_order(tmp_path, order, frame_axes):
    bones = dict(CHAIN, a=("1 0 0", 2.0, f"30 0 60 {order}"))
    out = positions(tmp_path, [pose(a=(90, 0, 0))], bones=bones)
    np.testing.assert_allclose(out[0, 1], frame_axes @ RX90 @ frame_axes.T @ (2, 0, 0),
                               atol=1e-12)


def test_root_rotation_and_orientation(tmp_path):
    out = positions(tmp_path, [pose(root=(1, 1, 1, 0, 0, 90))])
    np.testing.assert_allclose(out[0], chain_at((1, 1, 1), (0, 2, 0), (-3, 0, 0), (0, 0, 1)),
                               atol=1e-12)
    # orientation Rz(90) conjugates the root's rx = 90 into Ry(90).
    out = positions(tmp_path, [pose(root=(0, 0, 0, 90, 0, 0))], orientation="0 0 90")
    np.testing.assert_allclose(out[0], chain_at((0, 0, 0), (0, 0, -2), (0, 3, 0), (1, 0, 0)),
                               atol=1e-12)


def test_root_translation_moves_every_joint(tmp_path):
    rng = np.random.default_rng(0)
    rotations = {name: rng.uniform(-180, 180, 3).round(3) for name in "abc"}
    still = positions(tmp_path, [pose(root=(0, 0, 0, 10, 20, 30), **rotations)])
    moved = positions(tmp_path, [pose(root=(5, -6, 7, 10, 20, 30), **rotations)])
    np.testing.assert_allclose(moved - still, np.broadcast_to([5, -6, 7], still.shape),
                               atol=1e-9)


def test_root_order_may_permute_and_omit_channels(tmp_path):
    out = positions(tmp_path, [pose(root=(90, 3, 1, 2))], root_order="RZ TZ TX TY")
    np.testing.assert_allclose(out[0], chain_at((1, 2, 3), (0, 2, 0), (-3, 0, 0), (0, 0, 1)),
                               atol=1e-12)


def test_radians_match_degrees(tmp_path):
    rng = np.random.default_rng(1)
    degrees = [pose(root=(1, 2, 3, *rng.uniform(-180, 180, 3)),
                    **{name: rng.uniform(-180, 180, 3) for name in "abc"}) for _ in range(3)]
    radians = [{name: np.radians(values) if name != "root" else
                (*values[:3], *np.radians(values[3:])) for name, values in frame.items()}
               for frame in degrees]
    bones_deg = dict(CHAIN, a=("1 0 0", 2.0, "30 -45 60 XYZ"))
    bones_rad = dict(CHAIN, a=("1 0 0", 2.0,
                               f"{math.pi / 6!r} {-math.pi / 4!r} {math.pi / 3!r} XYZ"))
    deg_skeleton = read_asf(write_asf(tmp_path / "deg.asf", bones=bones_deg))
    rad_skeleton = read_asf(write_asf(tmp_path / "rad.asf", bones=bones_rad, angle="rad"))
    assert not rad_skeleton.degrees
    rad_amc = write_amc(tmp_path / "rad.amc", radians, header=(":RADIANS",))
    np.testing.assert_allclose(joint_positions(rad_skeleton, read_amc(rad_amc, rad_skeleton)),
                               joint_positions(deg_skeleton, degrees), atol=1e-9)


def test_cmu_hierarchy_gives_31_joints_and_keeps_bone_lengths(tmp_path):
    rng = np.random.default_rng(2)
    names = [name for line in CMU_HIERARCHY for name in line.split()[1:]]
    bones = {name: (" ".join(map(str, rng.normal(size=3))), float(rng.uniform(0.5, 3)),
                    " ".join(map(str, rng.uniform(-90, 90, 3))) + " XYZ") for name in names}
    skeleton = read_asf(write_asf(tmp_path / "cmu.asf", bones=bones, hierarchy=CMU_HIERARCHY))
    assert len(skeleton.joint_names) == 31
    assert skeleton.joint_names[:6] == ["root", "lhipjoint", "lfemur", "ltibia", "lfoot", "ltoes"]
    frames = [{"root": rng.uniform(-50, 50, 6), **{name: rng.uniform(-180, 180, 3)
                                                   for name in names}} for _ in range(4)]
    out = joint_positions(skeleton, frames)
    assert out.shape == (4, 31, 3)
    index = {name: i for i, name in enumerate(skeleton.joint_names)}
    for parent, *kids in (line.split() for line in CMU_HIERARCHY):
        for kid in kids:
            np.testing.assert_allclose(
                np.linalg.norm(out[:, index[kid]] - out[:, index[parent]], axis=-1),
                skeleton.bones[kid].length)


def test_bone_without_dof_may_be_left_out(tmp_path):
    bones = dict(CHAIN, b=("0 1 0", 3.0, "0 0 0 XYZ", ""))
    frame = pose(a=(0, 0, 90))
    del frame["b"]
    out = positions(tmp_path, [frame, dict(frame, b=())], bones=bones)
    np.testing.assert_allclose(out[0], out[1])
    np.testing.assert_allclose(out[0], chain_at((0, 0, 0), (0, 2, 0), (-3, 0, 0), (0, 0, 1)),
                               atol=1e-12)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.asf"):
        read_asf(tmp_path / "nope.asf")
    skeleton = read_asf(write_asf(tmp_path / "s.asf"))
    with pytest.raises(FileNotFoundError, match="nope.amc"):
        read_amc(tmp_path / "nope.amc", skeleton)


@pytest.mark.parametrize("section", ["root", "bonedata", "hierarchy"])
def test_asf_without_a_section(tmp_path, section):
    asf = write_asf(tmp_path / "s.asf", omit=(section,))
    with pytest.raises(ValueError, match=f"s.asf: no ':{section}' section"):
        read_asf(asf)


@pytest.mark.parametrize("kwargs, message", [
    (dict(bones=dict(CHAIN, a=("1 0 0", 2.0, "0 0 0 XYZ", "rx tx"))),
     "bone 'a': only distinct rotational dofs"),
    (dict(bones=dict(CHAIN, a=("1 x 0", 2.0))), r"bone 'a': expected numbers, got 1 x 0"),
    (dict(bones=dict(CHAIN, a=("0 0 0", 2.0))), "bone 'a': the direction is zero"),
    (dict(bones=dict(CHAIN, a=("1 0 0", 2.0, "0 0 0 XXY"))), "permutation of XYZ"),
    (dict(hierarchy=("root a", "a b", "b c zz")), "unknown bone 'zz'"),
    (dict(hierarchy=("root a", "a b")), "does not connect c to the root"),
    (dict(hierarchy=("root a", "a b", "b c", "a c")), "'c' cannot be a child of 'a'"),
    (dict(angle="grad"), "angle must be 'deg' or 'rad'"),
    (dict(root_order="TX TY TW"), "'order' must list distinct channels"),
])
def test_bad_asf(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        read_asf(write_asf(tmp_path / "s.asf", **kwargs))


@pytest.mark.parametrize("frame, message", [
    (dict(pose(), zz=(1, 2, 3)), "m.amc, frame 1: bone 'zz' is not in the skeleton"),
    (pose(a=(1, 2)), r"m.amc, frame 1: bone 'a' needs 3 values \(rx ry rz\), got 2"),
    (pose(root=(0, 0, 0)), "m.amc, frame 1: bone 'root' needs 6 values"),
    ({"root": (0,) * 6, "a": (0, 0, 0), "c": (0, 0, 0)}, "m.amc, frame 1: no values for b"),
])
def test_amc_not_matching_the_skeleton(tmp_path, frame, message):
    skeleton = read_asf(write_asf(tmp_path / "s.asf"))
    amc = write_amc(tmp_path / "m.amc", [frame])
    read_amc(amc)  # parses without a skeleton to check against
    with pytest.raises(ValueError, match=message):
        read_amc(amc, skeleton)
    with pytest.raises(ValueError, match="frame index 0"):
        joint_positions(skeleton, read_amc(amc))


def test_bad_amc(tmp_path):
    skeleton = read_asf(write_asf(tmp_path / "s.asf"))
    amc = tmp_path / "m.amc"
    amc.write_text(":DEGREES\nroot 0 0 0 0 0 0\n")
    with pytest.raises(ValueError, match=r"m.amc:2: bone data 'root' before the first frame"):
        read_amc(amc)
    amc.write_text("1\nroot 0 0 0 0 0 zero\n")
    with pytest.raises(ValueError, match=r"m.amc:2: expected numbers"):
        read_amc(amc)
    amc.write_text("1\nroot 0 0 0 0 0 0\nroot 0 0 0 0 0 0\n")
    with pytest.raises(ValueError, match="bone 'root' appears twice in frame 1"):
        read_amc(amc)
    write_amc(amc, [pose()], header=(":RADIANS",))
    with pytest.raises(ValueError, match="m.amc:2: the motion is in 'rad'"):
        read_amc(amc, skeleton)
