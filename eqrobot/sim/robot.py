"""A UR5-class arm (pybullet_data's Franka Panda, which reaches the whole Ravens workspace
from its base at the origin; the xArm6 there does not) with a suction tool, moved by inverse kinematics,
and the pick-and-place primitive that the tasks' actions run.

Actions are poses of the suction tip in the world (the table's) frame: at pick, where the tip
touches the object; at place, where the tip should be when the object is released. The tool
always points straight down; only its yaw about the vertical changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as p

from eqrobot.geometry.rotations import matrix_to_quat, rot_x, rot_z

ARM_URDF = "franka_panda/panda.urdf"
FLANGE_LINK = 11  # panda_grasptarget: between the (closed) fingers, z along the fingers
TOOL_LENGTH = 0.06  # flange to suction tip
TOOL_RADIUS = 0.008
# Newtons: the default lets a held block slip centimetres when the arm swings round.
CONSTRAINT_FORCE = 1e4
BASE = (0.05, 0.0, 0.0)  # arm base: just behind the workspace (x from 0.25 m), so its far corners are in reach
REST_POSE = (0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.785)  # a comfortable tool-down posture (rad)
HOME_TIP = (0.15, 0.0, 0.45)  # tool tip at rest: behind the workspace (x < 0.25), out of the cameras' way


@dataclass(frozen=True)
class Motion:
    approach_height: float = 0.10  # above the pick / place pose before descending
    descent_step: float = 0.02  # metres per IK target of a guarded descent (contact is checked every physics step)
    max_descent: float = 0.08  # below the given pose before giving up
    settle_steps: int = 40  # physics steps after release
    joint_tolerance: float = 0.001  # rad
    joint_speed: float = 0.01  # rad per physics step (2.4 rad/s)
    max_steps: int = 400  # physics steps per move


class SuctionArm:
    """The arm, its tool and the suction grip, in one PyBullet client."""

    tip_offset = TOOL_LENGTH  # flange (panda_grasptarget) to the point that action poses place

    def __init__(self, client: int, base=BASE, motion: Motion = Motion()) -> None:
        self.client, self.motion = client, motion
        self.arm = p.loadURDF(ARM_URDF, list(base), useFixedBase=True, physicsClientId=client)
        self.joints = [j for j in range(p.getNumJoints(self.arm, physicsClientId=client))
                       if p.getJointInfo(self.arm, j, physicsClientId=client)[2] == p.JOINT_REVOLUTE]
        self._limits = self._joint_limits()
        self.tool = self._attach_tool()
        self.grip: int | None = None  # constraint holding an object
        self.held: int | None = None
        self._set_joints(REST_POSE)  # IK starts from the current angles: solve the rest pose once, from here
        self._home = self._inverse_kinematics(HOME_TIP, 0.0)
        self.reset()

    def _joint_limits(self) -> tuple[list, list, list, list]:
        """Lower and upper limits, ranges and rest angles of every movable joint (IK wants them all)."""
        lower, upper, rest = [], [], []
        for j in range(p.getNumJoints(self.arm, physicsClientId=self.client)):
            info = p.getJointInfo(self.arm, j, physicsClientId=self.client)
            if info[2] == p.JOINT_FIXED:
                continue
            lower.append(info[8])
            upper.append(info[9])
            rest.append(REST_POSE[len(rest)] if len(rest) < len(REST_POSE) else 0.0)
        return lower, upper, [u - lo for lo, u in zip(lower, upper, strict=True)], rest

    def _attach_tool(self) -> int:
        shape = p.createCollisionShape(p.GEOM_CYLINDER, radius=TOOL_RADIUS, height=TOOL_LENGTH,
                                       physicsClientId=self.client)
        visual = p.createVisualShape(p.GEOM_CYLINDER, radius=TOOL_RADIUS, length=TOOL_LENGTH,
                                     rgbaColor=[0.3, 0.3, 0.3, 1], physicsClientId=self.client)
        tool = p.createMultiBody(0.05, shape, visual, physicsClientId=self.client)
        # The cylinder's top end (-z) is welded to the flange; it extends along the flange's z.
        weld = p.createConstraint(self.arm, FLANGE_LINK, tool, -1, p.JOINT_FIXED, [0, 0, 0], [0, 0, 0],
                                  [0, 0, -TOOL_LENGTH / 2], physicsClientId=self.client)
        p.changeConstraint(weld, maxForce=CONSTRAINT_FORCE, physicsClientId=self.client)
        for link in range(-1, p.getNumJoints(self.arm, physicsClientId=self.client)):
            p.setCollisionFilterPair(self.arm, tool, link, -1, 0, physicsClientId=self.client)
        return tool

    # --- joints and poses -------------------------------------------------------

    def reset(self) -> None:
        """Teleport to the rest pose (no physics in between) and let go of anything held."""
        self.release()
        self._set_joints(self._home)
        self._hold_joints(self._home)
        if self.tool is not None:
            centre, orientation = self._on_tool_axis(TOOL_LENGTH / 2)
            p.resetBasePositionAndOrientation(self.tool, centre.tolist(), orientation, physicsClientId=self.client)

    def joint_angles(self) -> np.ndarray:
        return np.array([p.getJointState(self.arm, j, physicsClientId=self.client)[0] for j in self.joints])

    def tip_position(self) -> np.ndarray:
        return self._on_tool_axis(self.tip_offset)[0]

    def _on_tool_axis(self, distance: float) -> tuple[np.ndarray, tuple]:
        """The point ``distance`` from the flange along the tool, and the flange's orientation."""
        flange = p.getLinkState(self.arm, FLANGE_LINK, computeForwardKinematics=True, physicsClientId=self.client)
        point = p.multiplyTransforms(flange[4], flange[5], [0, 0, distance], [0, 0, 0, 1])[0]
        return np.asarray(point), flange[5]

    def move_tip(self, position, yaw: float, stop=None) -> bool:
        """Drive the tool tip to ``position`` with the tool pointing down, turned ``yaw`` about
        the vertical; ``stop()`` (checked every physics step) ends the motion where the arm is.
        False when the joints did not get there (nor stopped) within the step budget."""
        return self._drive(self._inverse_kinematics(position, yaw), stop)

    def _inverse_kinematics(self, tip_position, yaw: float, rounds: int = 8) -> np.ndarray:
        """Joint angles that put the tip at ``tip_position`` pointing down, turned ``yaw``.

        PyBullet's solver stops centimetres short near the edge of the reach, so it is re-run
        from its own answer (set on the joints for the moment, then put back) until the tip is
        within 0.2 mm. The null-space terms (limits, a rest pose) keep the redundant arm's
        solutions in range."""
        target = np.asarray(tip_position, dtype=np.float64)
        down = rot_z(yaw) @ rot_x(np.pi)  # flange z along -world z
        lower, upper, ranges, rest = self._limits
        now = self.joint_angles()
        angles = now
        for _ in range(rounds):
            solution = p.calculateInverseKinematics(
                self.arm, FLANGE_LINK, (target + [0, 0, self.tip_offset]).tolist(), matrix_to_quat(down).tolist(),
                lowerLimits=lower, upperLimits=upper, jointRanges=ranges, restPoses=rest, maxNumIterations=200,
                residualThreshold=1e-6, physicsClientId=self.client)
            angles = np.asarray(solution[: len(self.joints)])
            self._set_joints(angles)
            if np.linalg.norm(self.tip_position() - target) < 2e-4:
                break
        self._set_joints(now)
        return angles

    def _set_joints(self, angles) -> None:
        for joint, angle in zip(self.joints, angles, strict=True):
            p.resetJointState(self.arm, joint, angle, physicsClientId=self.client)

    def _hold_joints(self, angles) -> None:
        p.setJointMotorControlArray(self.arm, self.joints, p.POSITION_CONTROL, targetPositions=list(angles),
                                    forces=[200.0] * len(self.joints), physicsClientId=self.client)

    def _drive(self, angles: np.ndarray, stop=None) -> bool:
        """Lead the joints along the straight line to ``angles``, at most ``joint_speed`` rad per
        physics step (a sudden swing shakes the held body loose), then let them settle."""
        start = self.joint_angles()
        steps = int(np.ceil(np.abs(angles - start).max() / self.motion.joint_speed))
        for alpha in np.linspace(0.0, 1.0, steps + 1)[1:]:
            self._hold_joints(start + alpha * (angles - start))
            p.stepSimulation(physicsClientId=self.client)
            if stop is not None and stop():
                self._hold_joints(self.joint_angles())
                return True
        for _ in range(self.motion.max_steps):
            p.stepSimulation(physicsClientId=self.client)
            if stop is not None and stop():
                self._hold_joints(self.joint_angles())  # stay here: pushing on would shove the object
                return True
            if np.abs(self.joint_angles() - angles).max() < self.motion.joint_tolerance:
                return True
        return False

    # --- suction -------------------------------------------------------------------

    def touching(self) -> int | None:
        """The body the tool tip touches (not the arm itself), if any."""
        for contact in p.getContactPoints(bodyA=self.tool, physicsClientId=self.client):
            if contact[2] not in (self.arm, self.tool):
                return contact[2]
        return None

    def suck(self, ignore: tuple = ()) -> bool:
        """Grip the touched body (unless it is in ``ignore``, e.g. the table) where it is now."""
        body = self.touching()
        if body is None or body in ignore or self.grip is not None:
            return False
        tool_pos, tool_orn = p.getBasePositionAndOrientation(self.tool, physicsClientId=self.client)
        body_pos, body_orn = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
        inv_pos, inv_orn = p.invertTransform(tool_pos, tool_orn)
        rel_pos, rel_orn = p.multiplyTransforms(inv_pos, inv_orn, body_pos, body_orn)
        self.grip = p.createConstraint(self.tool, -1, body, -1, p.JOINT_FIXED, [0, 0, 0], rel_pos, [0, 0, 0],
                                       rel_orn, physicsClientId=self.client)
        p.changeConstraint(self.grip, maxForce=CONSTRAINT_FORCE, physicsClientId=self.client)
        # Contact between tool and held body would fight the grip and let the body creep.
        p.setCollisionFilterPair(self.tool, body, -1, -1, 0, physicsClientId=self.client)
        self.held = body
        return True

    def release(self) -> None:
        if self.grip is not None:
            p.removeConstraint(self.grip, physicsClientId=self.client)
            p.setCollisionFilterPair(self.tool, self.held, -1, -1, 1, physicsClientId=self.client)
        self.grip = self.held = None

    # --- the primitive ------------------------------------------------------------

    def pick_and_place(self, pick: np.ndarray, place: np.ndarray, ignore: tuple = ()) -> bool:
        """Pick at tip pose ``pick`` (x, y, z, yaw), place at ``place``. Each descent is guarded:
        it stops at contact (pick) or when the held object meets resistance (place). True when
        something was picked and released at the place."""
        m = self.motion
        pick, place = np.array(pick, dtype=np.float64), np.array(place, dtype=np.float64)
        # The tool is round: only the turn between pick and place matters. Split it evenly about
        # the arm's middle wrist angle, so the wrist never needs more than half a turn either way.
        turn = np.angle(np.exp(1j * (place[3] - pick[3])))
        pick[3], place[3] = -turn / 2, turn / 2
        self.move_tip(pick[:3] + [0, 0, m.approach_height], pick[3])
        if not self._descend_until(pick, lambda: self.touching() is not None):
            self.move_tip(pick[:3] + [0, 0, m.approach_height], pick[3])
            return False
        if not self.suck(ignore):
            self.move_tip(pick[:3] + [0, 0, m.approach_height], pick[3])
            return False
        self.move_tip(pick[:3] + [0, 0, m.approach_height], pick[3])
        self.move_tip(place[:3] + [0, 0, m.approach_height], place[3])
        self._descend_until(place, self._held_blocked, stop_at_pose=True)
        self.release()
        for _ in range(m.settle_steps):
            p.stepSimulation(physicsClientId=self.client)
        self.move_tip(place[:3] + [0, 0, m.approach_height], place[3])
        return True

    def _descend_until(self, pose: np.ndarray, stop, stop_at_pose: bool = False) -> bool:
        m = self.motion
        z = pose[2] + m.approach_height
        lowest = pose[2] - (0.0 if stop_at_pose else m.max_descent)
        while z > lowest:
            z = max(z - m.descent_step, lowest)
            self.move_tip([pose[0], pose[1], z], pose[3], stop)
            if stop():
                return True
        return stop_at_pose

    def _held_blocked(self) -> bool:
        """The held object touches something other than the tool."""
        if self.held is None:
            return False
        return any(c[2] not in (self.tool, self.arm)
                   for c in p.getContactPoints(bodyA=self.held, physicsClientId=self.client))
