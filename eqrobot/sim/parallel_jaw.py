"""The parallel-jaw option: the same arm with the Panda's own two fingers instead of the
suction tool.

A grasp is physical: the fingers close with their rated force and must both touch the object.
While it is carried, the object is also welded to the hand: PyBullet's finger contacts alone
let a 0.1 kg block slide 1-2 cm along the pads over one transport, friction anchors and higher
friction included, which no real two-finger grasp of a block does.

Actions mean the same as with suction, so demonstrations, agents and oracles serve both
grippers: the pick pose is the point on the object's top where a suction cup would touch,
the place pose where that point should be at release, the yaw the object's turn. The jaw
grasps ``GRASP_DEPTH`` below the given point (half the height above the table for lower
objects), closing across the yaw's direction: the fingers slide along the hand's y axis,
which points along the yaw minus a quarter turn.
"""

from __future__ import annotations

import numpy as np
import pybullet as p

from eqrobot.sim.robot import CONSTRAINT_FORCE, FLANGE_LINK, SuctionArm

FINGERS = (9, 10)  # panda_finger_joint1/2: prismatic, 0 (closed) to 0.04 m (open) each
FINGER_OPEN = 0.04
FINGER_FORCE = 20.0  # newtons per finger: the URDF's limit
GRASP_DEPTH = 0.02  # metres below the given top point: the middle of a 4 cm block
CLOSE_STEPS = 120  # physics steps (0.5 s) for the fingers to close on the object


def grasp_yaws(pick_yaw: float, place_yaw: float) -> tuple[float, float]:
    """The hand's yaw at pick and at place. Two fingers grip the same after a half turn, so of
    ``pick_yaw + k pi`` the one nearest minus half the turn is taken: the wrist then never turns
    more than a half turn from its middle angle either way."""
    turn = float(np.angle(np.exp(1j * (place_yaw - pick_yaw))))
    pick = pick_yaw + np.pi * np.round((-turn / 2 - pick_yaw) / np.pi)
    return float(pick), float(pick + turn)


class ParallelJawArm(SuctionArm):
    """The arm with a two-finger parallel jaw; ``pick_and_place`` as ``SuctionArm``'s."""

    tip_offset = 0.0  # panda_grasptarget lies between the fingertips

    def _attach_tool(self) -> None:
        return None

    def reset(self) -> None:
        super().reset()
        for finger in FINGERS:
            p.resetJointState(self.arm, finger, FINGER_OPEN, physicsClientId=self.client)
        self._drive_fingers(FINGER_OPEN)

    def _drive_fingers(self, opening: float) -> None:
        p.setJointMotorControlArray(self.arm, list(FINGERS), p.POSITION_CONTROL, targetPositions=[opening] * 2,
                                    forces=[FINGER_FORCE] * 2, physicsClientId=self.client)

    def finger_contacts(self, finger: int) -> set[int]:
        """Bodies (not the arm) that ``finger`` touches."""
        return {c[2] for c in p.getContactPoints(bodyA=self.arm, linkIndexA=finger, physicsClientId=self.client)
                if c[2] != self.arm}

    def touching(self) -> int | None:
        """The body between the fingers that both of them touch, if any."""
        both = self.finger_contacts(FINGERS[0]) & self.finger_contacts(FINGERS[1])
        return min(both) if both else None

    def close(self, ignore: tuple = ()) -> bool:
        """Close the fingers; True when they hold a body (not one of ``ignore``) between them."""
        self._drive_fingers(0.0)
        for _ in range(CLOSE_STEPS):
            p.stepSimulation(physicsClientId=self.client)
        body = self.touching()
        if body is None or body in ignore:
            self.release()
            return False
        self.held, self.grip = body, self._weld(body)
        return True

    def _weld(self, body: int) -> int:
        """A fixed constraint holding ``body`` where it is now relative to the hand."""
        hand = p.getLinkState(self.arm, FLANGE_LINK, computeForwardKinematics=True, physicsClientId=self.client)
        pos, orn = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
        rel_pos, rel_orn = p.multiplyTransforms(*p.invertTransform(hand[4], hand[5]), pos, orn)
        weld = p.createConstraint(self.arm, FLANGE_LINK, body, -1, p.JOINT_FIXED, [0, 0, 0], rel_pos, [0, 0, 0],
                                  rel_orn, physicsClientId=self.client)
        p.changeConstraint(weld, maxForce=CONSTRAINT_FORCE, physicsClientId=self.client)
        return weld

    def release(self) -> None:
        if self.grip is not None:
            p.removeConstraint(self.grip, physicsClientId=self.client)
        self._drive_fingers(FINGER_OPEN)
        self.grip = self.held = None

    def pick_and_place(self, pick: np.ndarray, place: np.ndarray, ignore: tuple = ()) -> bool:
        """Grasp below pick pose ``pick`` (x, y, z, yaw), let go below ``place``; the descent to
        the place stops when the held object meets resistance. True when something was held and
        let go at the place."""
        m = self.motion
        pick, place = np.array(pick, dtype=np.float64), np.array(place, dtype=np.float64)
        depth = min(GRASP_DEPTH, pick[2] / 2)
        pick[2], place[2] = pick[2] - depth, place[2] - depth
        pick[3], place[3] = grasp_yaws(pick[3], place[3])
        above_pick = pick[:3] + [0, 0, m.approach_height]
        self.release()
        self.move_tip(above_pick, pick[3])
        self._descend_until(pick, self._fingers_blocked, stop_at_pose=True)
        if not self.close(ignore):
            self.move_tip(above_pick, pick[3])
            return False
        self.move_tip(above_pick, pick[3])
        self.move_tip(place[:3] + [0, 0, m.approach_height], place[3])
        self._descend_until(place, lambda: self._held_blocked() or self._fingers_blocked(), stop_at_pose=True)
        self.release()
        for _ in range(m.settle_steps):
            p.stepSimulation(physicsClientId=self.client)
        self.move_tip(place[:3] + [0, 0, m.approach_height], place[3])
        return True

    def _fingers_blocked(self) -> bool:
        """A fingertip rests on something: going lower would push it."""
        return any(c[2] != self.arm and c[7][2] > 0.5  # contact normal on B pointing up at the finger
                   for finger in FINGERS
                   for c in p.getContactPoints(bodyA=self.arm, linkIndexA=finger, physicsClientId=self.client))
