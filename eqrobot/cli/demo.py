"""End-to-end tour of what eqrobot does today, on a real shape (the Stanford bunny
shipped with pybullet_data):

  1. geometry: a random rigid motion, its representations, round trips and its
     nearest cell on the SO(3) grid;
  2. the library: the moved scan cleaned and voxel-averaged in torch;
  3. registration: two partial, noisy views of the real Stanford bunny scan (shipped
     with pymeshfix), one turned by a random full rotation, registered by eqrobot's
     rotation-invariant method and by Open3D FPFH+RANSAC; errors against the known motion;
  4. pick and place: the shipped equivariant Transporter (10 demonstrations) runs
     block-insertion test episodes in the PyBullet simulator;
  5. navigation: the shipped E(2)-equivariant planner plans across a generated maze (and
     the same maze turned by 40 deg) as short as Dijkstra, and a simulated robot drives it;
  6. pose prediction: the shipped SO(3)-equivariant density model on rendered solids: the
     best mode matches one of the solid's look-alike orientations, and turning the picture
     by a quarter turn turns the prediction with it;
  7. ROS 2: cloud_filter_node started as its own process with config/cloud_filter.yaml;
     the scan goes to it as a PointCloud2 over DDS and comes back filtered; a
     malformed cloud is rejected and counted in /diagnostics while the node keeps working.

Exits 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from eqrobot.cli.errors import CliError

HELP = ("run the end-to-end demo (geometry, filtering, registration, pick and place, navigation, "
        "pose prediction, a ROS 2 node over DDS)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shape", default="bunny", help="sample shape from pybullet_data (default bunny)")
    p.add_argument("--points", type=int, default=50_000, help="points sampled on the shape")
    p.add_argument("--voxel", type=float, default=0.02, help="voxel size in metres")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--episodes", type=int, default=4, help="pick-and-place test episodes")
    p.add_argument("--no-ros", action="store_true", help="skip the ROS 2 part")


def _step(title: str) -> None:
    print(f"\n== {title}")


def _check(ok: bool, what: str) -> None:
    print(f"  [{'ok' if ok else 'FAILED'}] {what}")
    if not ok:
        raise CliError(f"demo check failed: {what}")


def geometry_part(cloud, seed: int):
    from eqrobot import geometry as g

    _step("geometry: a random rigid motion of the scan")
    T = g.random_transforms(1, max_translation=0.5, seed=seed)[0]
    t, q = g.transform_to_quat(T)
    print(f"  translation {np.round(t, 4).tolist()}  quaternion xyzw {np.round(q, 4).tolist()}")
    print(f"  roll/pitch/yaw {np.round(np.degrees(g.matrix_to_rpy(T[:3, :3])), 2).tolist()} deg")
    moved = g.apply(T, cloud.points)
    back = g.apply(g.invert(T), moved)
    _check(np.abs(back - cloud.points).max() < 1e-9, "inverse transform restores every point (< 1e-9 m)")
    R2 = g.quat_to_matrix(g.matrix_to_quat(T[:3, :3]))
    _check(float(g.geodesic_distance(R2, T[:3, :3])) < 1e-7, "matrix -> quaternion -> matrix round trip")
    grid = g.SO3Grid(3)
    idx, dist = grid.nearest(T[:3, :3])
    _check(np.degrees(dist) <= grid.covering_radius_deg,
           f"nearest of {grid.size} SO(3) grid cells is {np.degrees(dist):.2f} deg away "
           f"(covering radius {grid.covering_radius_deg} deg)")
    return T, moved


def library_part(cloud, voxel: float):
    from eqrobot.device import resolve_device
    from eqrobot.geometry.cloud_filter import CloudFilterConfig, filter_cloud

    _step("library: clean and voxel-average the scan")
    device = resolve_device("auto")
    start = time.perf_counter()
    out = filter_cloud(cloud, CloudFilterConfig(voxel_size=voxel), device.device)
    ms = (time.perf_counter() - start) * 1e3
    print(f"  {len(cloud)} -> {len(out)} points at {voxel} m voxels on {device.device} in {ms:.1f} ms")
    _check(0 < len(out) < len(cloud), "voxel averaging reduced the cloud")
    return out


def registration_part(seed: int) -> None:
    from eqrobot import geometry as g
    from eqrobot.perception.registration.data import DEPTH_CAMERA_VIEW, partial_pair
    from eqrobot.perception.registration.registrar import Registrar, RegistrarConfig

    _step("registration: two partial views of the real bunny scan, full random rotation")
    pair = partial_pair("bunny_scan", seed, **DEPTH_CAMERA_VIEW)
    angle = np.degrees(np.linalg.norm(g.matrix_to_axis_angle(pair.transform[:3, :3])))
    print(f"  {len(pair.source)} + {len(pair.target)} points, overlap {100 * pair.overlap:.0f} %, "
          f"true rotation {angle:.1f} deg")
    for label, method in (("eqrobot eq", "eq"), ("Open3D FPFH+RANSAC", "fpfh")):
        result = Registrar(RegistrarConfig(method=method))(pair.source, pair.target)
        rre = float(np.degrees(g.rotation_error(result.transform, pair.transform)))
        rte = float(g.translation_error(result.transform, pair.transform))
        print(f"  {label:<20} rotation error {rre:6.2f} deg, translation error {rte:.3f} "
              f"(object ~1 unit), converged {result.converged}, {result.time_s * 1e3:.0f} ms")
        if method == "eq":
            _check(rre < 5.0 and result.converged, "eqrobot registration within 5 deg, flagged converged")


def pick_place_part(episodes: int) -> None:
    from eqrobot.policy.transporter.camera import load_agent
    from eqrobot.policy.transporter.evaluate import evaluate

    _step(f"pick and place: the shipped equivariant Transporter, {episodes} block-insertion test episodes")
    agent = load_agent("", "auto")
    meta = agent.meta
    print(f"  agent '{meta['agent']}', trained on {meta['demos']} demonstrations for {meta['step']} steps")
    start = time.perf_counter()
    result = evaluate(agent, "block-insertion", episodes)
    seconds = time.perf_counter() - start
    print(f"  success {100 * result['success_rate']:.0f} %, mean reward {result['mean_reward']:.2f}, "
          f"{seconds / episodes:.1f} s per episode (simulation, cameras, networks)")
    _check(result["success_rate"] >= (episodes - 1) / episodes, f"at least {episodes - 1} of {episodes} inserted")


def navigation_part() -> None:
    from eqrobot.policy.navigation.maps import generate, rotated
    from eqrobot.policy.navigation.planner import Planner
    from eqrobot.sim.navigation import follow_plan

    _step("navigation: the shipped equivariant planner on a generated 4.8 m maze, then the maze turned by 40 deg")
    maze = generate("maze", 48, seed=4)
    corners = ([3, 39], [3, 39])  # cells (row, col): two opposite corridor corners
    learned, exact = Planner("eq"), Planner("dijkstra")
    lengths = []
    for name, m in (("maze", maze), ("turned maze", rotated(maze, np.radians(40)))):
        start, goal = m.cell_to_world(*corners)
        graph = learned.set_map(m)
        plan = learned.plan(start, goal)
        exact.set_map(m)
        best = exact.plan(start, goal)
        print(f"  {name}: graph of {graph.num_nodes} nodes; eq {plan.length_m:.3f} m in {1000 * plan.time_s:.0f} ms, "
              f"Dijkstra {best.length_m:.3f} m")
        _check(plan.reachable and plan.length_m <= best.length_m * 1.001, "eq's path as short as Dijkstra's")
        lengths.append(plan.length_m)
    _check(abs(lengths[1] - lengths[0]) < 1e-6 * lengths[0], "turning the map turns the plan (same length)")
    result = follow_plan(m, plan.path)  # the turned maze: its walls turned as well
    print(f"  simulated Husky in the turned maze: {result.distance_m:.2f} m driven in {result.time_s:.1f} s "
          f"(simulated), ended by {result.ended_by}")
    _check(result.success, "the robot reached the goal without touching a wall")


def ros_part(cloud, expected_points: int, voxel: float) -> None:
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import PointCloud2

    from eqrobot.resources import share_file
    from eqrobot.ros.convert import cloud_to_pointcloud2, pointcloud2_to_xyz
    from eqrobot.ros.diagnostics import status_values
    from eqrobot.ros.harness import NodeProcess, RosClient, isolated_ros_env

    _step("ROS 2: cloud_filter_node as a separate process, over DDS")
    params = share_file("config/cloud_filter.yaml")
    env = isolated_ros_env()
    print(f"  starting: python -m eqrobot.ros.cloud_filter_node --params-file {params} "
          f"(ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}, localhost only)")
    with NodeProcess("eqrobot.ros.cloud_filter_node", params, {"voxel_size": voxel, "input_reliability": "reliable"},
                     env=env) as node:
        import os

        os.environ.update({k: env[k] for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")})
        with RosClient("eqrobot_demo") as client:
            pub = client.publisher(PointCloud2, "points")
            filtered = client.collect(PointCloud2, "points_filtered")
            diags = client.collect(DiagnosticArray, "/diagnostics")
            if not client.wait_for_subscribers(pub, timeout=30):
                raise CliError(f"cloud_filter_node did not come up; its output:\n{node.output()}")

            msg = cloud_to_pointcloud2(cloud)
            msg.header.frame_id = "lidar"
            msg.header.stamp.sec = 42
            start = time.perf_counter()
            pub.publish(msg)
            _check(client.spin_until(lambda: len(filtered) >= 1, 20), "filtered cloud received")
            rtt = (time.perf_counter() - start) * 1e3
            got = filtered[0]
            n = len(pointcloud2_to_xyz(got))
            print(f"  sent {len(cloud)} points, got {n} back in {rtt:.0f} ms (round trip through DDS)")
            _check(n == expected_points, "node result equals the library call")
            same_header = got.header.frame_id == "lidar" and got.header.stamp.sec == 42
            _check(same_header, "output keeps the input's frame and stamp")

            def rejected_reported() -> bool:
                return bool(diags) and status_values(diags[-1].status[0]).get("rejected") == "1"

            bad = cloud_to_pointcloud2(cloud)
            bad.row_step += 4  # claims more bytes than the message carries
            pub.publish(bad)
            _check(client.spin_until(rejected_reported, 10), "malformed cloud rejected and counted in /diagnostics")
            pub.publish(msg)
            _check(client.spin_until(lambda: len(filtered) >= 2, 20),
                   "node still processes clouds after a malformed one")
            client.spin_until(lambda: status_values(diags[-1].status[0]).get("processed") == "2", 5)
            values = status_values(diags[-1].status[0])
            print(f"  /diagnostics: state={values['state']} device={values['device']} processed={values['processed']} "
                  f"rejected={values['rejected']} latency p50={values['latency_p50_ms']} ms")
            _check(node.alive(), "node process still running")


def pose_part(seed: int) -> None:
    from eqrobot.geometry.rotations import random_rotations, rot_z
    from eqrobot.perception.pose.predictor import PosePredictor, angle_between
    from eqrobot.sim.symsol import SymsolCamera, equivalents, symmetries

    _step("pose prediction: the shipped equivariant model on rendered solids (5 m ahead, 128 x 128 pictures)")
    predictor = PosePredictor()
    with SymsolCamera(128) as camera:
        for shape, rotation in zip(("cube", "tet", "cone"), random_rotations(3, seed=seed), strict=True):
            rgb, depth = camera.render(shape, rotation)
            estimate = predictor(rgb, depth, camera.intrinsics())
            error = np.degrees(angle_between(estimate.rotation[None], equivalents(shape, rotation)).min())
            turned = predictor(np.rot90(rgb, -1))  # the picture turned clockwise: the solid turned about z
            shift = np.degrees(angle_between(turned.rotation[None], rot_z(np.pi / 2) @ estimate.rotation
                                             @ symmetries(shape)).min())
            print(f"  {shape}: best of {len(estimate.modes)} modes {error:.1f} deg from the nearest look-alike "
                  f"orientation, uncertainty {estimate.uncertainty_deg:.1f} deg, visible surface at "
                  f"{estimate.translation[2]:.2f} m, {1000 * estimate.time_s:.0f} ms; picture turned by 90 deg: "
                  f"estimate turned by 90 deg to {shift:.2f} deg")
            _check(error < 5, f"the {shape}'s orientation to within 5 deg (up to its symmetry)")
            _check(shift < 0.5, "turning the picture turns the prediction with it")


def run(args: argparse.Namespace) -> int:
    from eqrobot.io.samples import sample_cloud

    print(f"eqrobot demo: the '{args.shape}' shape from pybullet_data, {args.points} surface points")
    cloud = sample_cloud(args.shape, args.points, seed=args.seed)
    T, moved = geometry_part(cloud, args.seed)
    cloud.points = moved
    cloud.normals = cloud.normals @ T[:3, :3].T
    filtered = library_part(cloud, args.voxel)
    registration_part(3)  # a fixed pair: the benchmark gives the statistics
    pick_place_part(args.episodes)
    navigation_part()
    pose_part(args.seed)
    if args.no_ros:
        print("\n(ROS 2 part skipped: --no-ros)")
    else:
        try:
            import rclpy  # noqa: F401
        except ImportError as e:
            raise CliError("rclpy is not importable: install the ROS extra (pip install 'eqrobot[ros]') "
                           "or source a ROS 2 distro, or pass --no-ros") from e
        ros_part(cloud, len(filtered), args.voxel)
    print("\ndemo finished: every check passed")
    return 0
