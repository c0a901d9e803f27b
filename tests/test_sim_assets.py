"""Generated task assets in real PyBullet: every one loads, movable ones come to rest on the table
where they should, the L block goes into its fixture only when it is turned the right way, disks
slide down the Hanoi pegs, and the cache reuses files and never shows half a file."""

import os
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pybullet as p
import pytest

from eqrobot import geometry as g
from eqrobot.sim import assets
from eqrobot.sim.world import World

SETTLE_STEPS = 240  # 1 s at the world's 240 Hz

# Movable assets and where their origin (the centroid) rests on the table: kit shapes are meshes,
# whose 1 mm collision margin lifts them by that much.
MOVABLE = {
    "box": (lambda cache: assets.box(cache_dir=cache), 0.02),
    "flat box": (lambda cache: assets.box((0.08, 0.05, 0.02), cache_dir=cache), 0.01),
    "l_block": (lambda cache: assets.l_block(cache_dir=cache), 0.02),
    "bowl": (lambda cache: assets.bowl(cache_dir=cache), None),  # see bowl_centroid_height
    "container": (lambda cache: assets.container(mass=0.3, cache_dir=cache), None),
    **{f"hanoi_disk {level}": (lambda cache, level=level: assets.hanoi_disk(level, cache_dir=cache), 0.0075)
       for level in range(3)},
    **{f"kit {shape}": (lambda cache, shape=shape: assets.kit_shape(shape, cache_dir=cache), 0.011)
       for shape in assets.KIT_SHAPES},
}

STATIC = {
    "l_fixture": lambda cache: assets.l_fixture(cache_dir=cache),
    "zone": lambda cache: assets.zone(cache_dir=cache),
    "corner": lambda cache: assets.corner(cache_dir=cache),
    "container": lambda cache: assets.container(cache_dir=cache),
    "pallet": lambda cache: assets.pallet(cache_dir=cache),
    "hanoi_base": lambda cache: assets.hanoi_base(cache_dir=cache),
    "kit_board": lambda cache: assets.kit_board([(s, -0.1 + 0.04 * i, 0.05 * (-1) ** i, 0.3 * i)
                                                 for i, s in enumerate(assets.KIT_SHAPES)], cache_dir=cache),
}


def centroid_height(pieces) -> float:
    """Height of the centroid of pieces given as (volume, height of their centre)."""
    volumes, heights = np.array(pieces).T
    return float(volumes @ heights / volumes.sum())


def bowl_centroid_height(radius=0.06, height=0.03, wall=0.004) -> float:
    floor = np.pi * radius**2 * wall
    side = np.pi * (radius**2 - (radius - wall) ** 2) * (height - wall)
    return centroid_height([(floor, wall / 2), (side, (height + wall) / 2)])


def container_centroid_height(inner=(0.2, 0.2, 0.06), wall=0.005) -> float:
    ix, iy, iz = inner
    floor = (ix + 2 * wall) * (iy + 2 * wall) * wall
    sides = 2 * wall * iz * (ix + 2 * wall + iy)
    return centroid_height([(floor, wall / 2), (sides, wall + iz / 2)])


RESTING_HEIGHT = {name: rest for name, (_, rest) in MOVABLE.items()}
RESTING_HEIGHT.update(bowl=bowl_centroid_height(), container=container_centroid_height())


def pose(x=0.5, y=0.0, z=0.0, yaw=0.0) -> np.ndarray:
    return g.make_transform(rotation=g.rpy_to_matrix([0.0, 0.0, yaw]), translation=[x, y, z])


def yaw_of(T: np.ndarray) -> float:
    return float(np.arctan2(T[1, 0], T[0, 0]))


@pytest.fixture
def world():
    with World(seed=0) as w:
        yield w


@pytest.mark.parametrize("name", list(MOVABLE))
def test_a_movable_asset_loads_with_its_frame_at_its_centre_of_mass(name, tmp_path, world):
    body = assets.load(world.client, MOVABLE[name][0](tmp_path), pose(z=0.3, yaw=0.4))
    np.testing.assert_allclose(world.pose_of(body), pose(z=0.3, yaw=0.4), atol=1e-9)
    mass, _, inertia, inertial_position, inertial_orientation = p.getDynamicsInfo(
        body, -1, physicsClientId=world.client)[:5]
    assert mass > 0 and min(inertia) > 0
    np.testing.assert_allclose(inertial_position, 0.0, atol=1e-9)  # so PyBullet reports the loaded pose
    np.testing.assert_allclose(inertial_orientation, [0, 0, 0, 1], atol=1e-9)


@pytest.mark.parametrize("name", list(STATIC))
def test_a_static_asset_loads_and_stays_where_it_was_put(name, tmp_path, world):
    body = assets.load(world.client, STATIC[name](tmp_path), pose(z=0.3, yaw=0.4))
    assert p.getDynamicsInfo(body, -1, physicsClientId=world.client)[0] == 0  # mass 0: static
    assert p.getVisualShapeData(body, physicsClientId=world.client)
    world.step(60)
    np.testing.assert_allclose(world.pose_of(body), pose(z=0.3, yaw=0.4), atol=1e-9)


@pytest.mark.parametrize("name", list(MOVABLE))
def test_a_movable_asset_dropped_on_the_table_comes_to_rest_on_it(name, tmp_path, world):
    rest = RESTING_HEIGHT[name]
    body = assets.load(world.client, MOVABLE[name][0](tmp_path), pose(z=rest + 0.02, yaw=0.3))
    world.step(SETTLE_STEPS)
    T = world.pose_of(body)
    assert T[2, 3] == pytest.approx(rest, abs=0.002)
    assert T[2, 2] > 0.9995  # upright: it landed flat and did not tip
    assert np.linalg.norm(T[:2, 3] - [0.5, 0.0]) < 0.003 and yaw_of(T) == pytest.approx(0.3, abs=0.02)
    assert np.linalg.norm(p.getBaseVelocity(body, physicsClientId=world.client)[0]) < 1e-3  # at rest


@pytest.mark.parametrize("fixture_yaw", [0.0, 0.7])
@pytest.mark.parametrize(("turn", "goes_in"), [(0.0, True), (np.pi / 2, False), (-np.pi / 2, False)])
def test_the_l_block_goes_into_its_fixture_only_when_turned_to_fit(fixture_yaw, turn, goes_in, tmp_path, world):
    assets.load(world.client, assets.l_fixture(cache_dir=tmp_path), pose(z=0.02, yaw=fixture_yaw))
    on_top = 0.04 + 0.02  # resting on the fixture's top face
    block = assets.load(world.client, assets.l_block(cache_dir=tmp_path), pose(z=on_top + 0.005,
                                                                                 yaw=fixture_yaw + turn))
    world.step(SETTLE_STEPS)
    z = world.pose_of(block)[2, 3]
    if goes_in:
        assert z == pytest.approx(0.02, abs=0.002)  # all the way down to the table, inside the slot
    else:
        assert z == pytest.approx(on_top, abs=0.003)  # caught on the top face: it did not go in


def test_the_fixture_leaves_a_few_millimetres_of_clearance(tmp_path, world):
    fixture = assets.load(world.client, assets.l_fixture(clearance=0.004, cache_dir=tmp_path), pose(z=0.02))
    block = assets.load(world.client, assets.l_block(cache_dir=tmp_path), pose(z=0.02))
    for dx, touches in ((0.0, False), (0.003, False), (0.006, True)):
        p.resetBasePositionAndOrientation(block, [0.5 + dx, 0, 0.02], [0, 0, 0, 1], physicsClientId=world.client)
        p.performCollisionDetection(physicsClientId=world.client)
        contacts = p.getContactPoints(block, fixture, physicsClientId=world.client)
        assert bool(contacts) == touches, dx


HOLDERS = {  # URDF, the height of its centroid, the thickness of its floor
    "static bowl": (lambda cache: assets.bowl(mass=0.0, cache_dir=cache), bowl_centroid_height(), 0.004),
    "light bowl": (lambda cache: assets.bowl(mass=0.05, cache_dir=cache), bowl_centroid_height(), 0.004),
    "container": (lambda cache: assets.container(cache_dir=cache), container_centroid_height(), 0.005),
}


@pytest.mark.parametrize("holder", list(HOLDERS))
def test_a_block_dropped_into_a_bowl_or_container_rests_on_its_floor(holder, tmp_path, world):
    make, centroid, floor = HOLDERS[holder]
    assets.load(world.client, make(tmp_path), pose(z=centroid))
    block = assets.load(world.client, assets.box(cache_dir=tmp_path), pose(x=0.51, y=0.003, z=0.07, yaw=0.5))
    world.step(SETTLE_STEPS)
    T = world.pose_of(block)
    assert T[2, 3] == pytest.approx(floor + 0.02, abs=0.002) and T[2, 2] > 0.999
    assert np.linalg.norm(T[:2, 3] - [0.51, 0.003]) < 0.003  # where it was dropped: it does not skate


def test_hanoi_disks_slide_down_a_peg_and_stack(tmp_path, world):
    base_thickness, peg_height, thickness = 0.01, 0.06, 0.015
    assets.load(world.client, assets.hanoi_base(cache_dir=tmp_path), pose(z=(base_thickness + peg_height) / 2))
    peg_y = 0.12  # the third peg
    disks = [assets.load(world.client, assets.hanoi_disk(level, cache_dir=tmp_path),
                         pose(y=peg_y, z=peg_height + 0.02 + 0.03 * (2 - level))) for level in (2, 1, 0)]
    world.step(2 * SETTLE_STEPS)  # three disks falling onto each other take a little longer
    for height, disk in enumerate(disks):
        T = world.pose_of(disk)
        assert T[2, 3] == pytest.approx(base_thickness + thickness * (height + 0.5), abs=0.002)
        # the peg keeps each disk centred to within the clearance of its hole
        assert np.linalg.norm(T[:2, 3] - [0.5, peg_y]) < assets.HANOI_HOLE_RADIUS - 0.006 + 0.001


def test_kit_pieces_placed_on_their_board_slots_rest_flat_on_the_board(tmp_path, world):
    slots = [("triangle", -0.08, 0.04, 0.5), ("cross", 0.0, -0.04, 1.0), ("ell", 0.08, 0.04, -0.3)]
    board = assets.kit_board(slots, cache_dir=tmp_path)
    assets.load(world.client, board, pose(z=0.005))
    visuals = p.getVisualShapeData(assets.load(world.client, board, pose(z=1.0)), physicsClientId=world.client)
    assert len(visuals) == 1 + 1 + 3 + 2  # the slab, then each slot's convex pieces
    pieces = [assets.load(world.client, assets.kit_shape(shape, cache_dir=tmp_path),
                          pose(0.5 + x, y, 0.01 + 0.01 + 0.01, yaw)) for shape, x, y, yaw in slots]
    world.step(SETTLE_STEPS)
    for piece, (_, x, y, yaw) in zip(pieces, slots, strict=True):
        T = world.pose_of(piece)
        assert T[2, 3] == pytest.approx(0.01 + 0.011, abs=0.002) and T[2, 2] > 0.999
        assert np.linalg.norm(T[:2, 3] - [0.5 + x, y]) < 0.003 and yaw_of(T) == pytest.approx(yaw, abs=0.02)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown kit shape"):
        assets.kit_shape("star", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="level"):
        assets.hanoi_disk(3, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="size"):
        assets.box((0.04, 0.0, 0.04), cache_dir=tmp_path)
    with pytest.raises(ValueError, match="mass"):
        assets.box(mass=-1.0, cache_dir=tmp_path)


def test_the_same_call_gives_the_same_file_and_other_parameters_another(tmp_path):
    first = assets.l_block(cache_dir=tmp_path)
    assert assets.l_block(cache_dir=tmp_path) == first
    assert first.parent == tmp_path and first.suffix == ".urdf" and first.name.startswith("l_block_")
    others = {assets.l_block(height=0.03, cache_dir=tmp_path), assets.l_block(rgba=(0, 0, 1, 1), cache_dir=tmp_path),
              assets.l_block(mass=0.2, cache_dir=tmp_path), assets.box(cache_dir=tmp_path)}
    assert first not in others and len(others) == 4
    assert assets.kit_shape("circle", cache_dir=tmp_path) != assets.kit_shape("hexagon", cache_dir=tmp_path)


def test_a_second_call_does_not_rewrite_the_files(tmp_path):
    urdf = assets.hanoi_disk(1, cache_dir=tmp_path)
    files = sorted(tmp_path.iterdir())
    assert len(files) == 2  # the URDF and its visual mesh
    for path in files:
        os.utime(path, ns=(0, 0))  # an mtime no write could leave behind
    assert assets.hanoi_disk(1, cache_dir=tmp_path) == urdf
    assert sorted(tmp_path.iterdir()) == files
    assert all(path.stat().st_mtime_ns == 0 for path in files)


def test_a_urdf_names_only_meshes_next_to_it(tmp_path):
    urdf = assets.kit_board([("cross", 0.0, 0.0, 0.0)], cache_dir=tmp_path)
    meshes = re.findall(r'filename="([^"]+)"', urdf.read_text())
    assert meshes and all((tmp_path / name).is_file() and "/" not in name for name in meshes)


def test_the_cache_folder_comes_from_the_argument_the_environment_or_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EQROBOT_ASSET_CACHE", raising=False)
    assert assets.zone().parent == tmp_path / "home" / ".cache" / "eqrobot" / "sim_assets"
    monkeypatch.setenv("EQROBOT_ASSET_CACHE", str(tmp_path / "from_env"))
    assert assets.zone().parent == tmp_path / "from_env"
    assert assets.zone(cache_dir=tmp_path / "from_argument").parent == tmp_path / "from_argument"


def test_concurrent_writers_agree_and_leave_no_temporary_files(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda _: assets.bowl(cache_dir=tmp_path), range(16)))
    assert len(set(paths)) == 1
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]
    with World() as world:  # and what they left is a whole, loadable file
        assets.load(world.client, paths[0], pose(z=0.1))
