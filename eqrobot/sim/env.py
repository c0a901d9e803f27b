"""The gymnasium environment of every tabletop task: observation = the fused top-down
heightmap (colour + height), action = pick and place poses (suction-tip poses; the
parallel jaw, ``gripper="parallel-jaw"``, reads them the same way: ``eqrobot.sim.parallel_jaw``)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from eqrobot.geometry.heightmap import RAVENS_WORKSPACE, Heightmap, Workspace
from eqrobot.sim.parallel_jaw import ParallelJawArm
from eqrobot.sim.robot import SuctionArm
from eqrobot.sim.tasks import make_task
from eqrobot.sim.tasks.ravens_score import RavensScore
from eqrobot.sim.world import World

SETTLE_STEPS = 120  # physics steps after the scene is built, before the first observation
GRIPPERS = {"suction": SuctionArm, "parallel-jaw": ParallelJawArm}


class PickPlaceEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 1}

    def __init__(self, task: str = "block-insertion", workspace: Workspace = RAVENS_WORKSPACE,
                 render_mode: str | None = None, gripper: str = "suction") -> None:
        if gripper not in GRIPPERS:
            raise ValueError(f"unknown gripper '{gripper}'; known: {', '.join(GRIPPERS)}")
        self.task_name, self.workspace, self.render_mode, self.gripper = task, workspace, render_mode, gripper
        self.task = make_task(task)
        rows, cols = workspace.shape
        b = workspace.array
        self.observation_space = gym.spaces.Dict({
            "color": gym.spaces.Box(0, 255, (rows, cols, 3), np.uint8),
            "height": gym.spaces.Box(0.0, float(b[2, 1] - b[2, 0]), (rows, cols), np.float32),
        })
        low, high = np.append(b[:, 0], -np.pi), np.append(b[:, 1], np.pi)
        pose = gym.spaces.Box(low, high, dtype=np.float64)  # suction tip x, y, z (metres), yaw (rad)
        self.action_space = gym.spaces.Dict({"pick": pose, "place": pose})
        self.world: World | None = None
        self.arm: SuctionArm | None = None
        self._last: Heightmap | None = None
        self._steps, self._reward = 0, 0.0
        self._ravens: RavensScore | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.close()
        self.world = World(seed=0 if seed is None else seed)
        self.arm = GRIPPERS[self.gripper](self.world.client)
        self.task.reset(self.world, self.np_random)
        self.world.step(SETTLE_STEPS)
        self._steps, self._reward = 0, self.task.reward(self.world)
        self._ravens = RavensScore(self.task, self.world)
        return self.observe(), self._info()

    def step(self, action):
        reward, terminated = self.act(action)
        # No truncation here: gymnasium.make wraps the env in a TimeLimit of the task's max_steps.
        return self.observe(), reward, terminated, False, self._info()

    def act(self, action) -> tuple[float, bool]:
        """Run one action without rendering the next observation: ``(reward, terminated)``.
        For callers that do not need the last observation (recording demonstrations)."""
        if self.world is None:
            raise RuntimeError("call reset() before step()")
        pick, place = (np.asarray(action[k], dtype=np.float64) for k in ("pick", "place"))
        self.arm.pick_and_place(pick, place, ignore=(self.world.table,))
        self.arm.reset()  # out of the cameras' view
        self._steps += 1
        reward = self.task.reward(self.world)
        self._ravens.update(self.world)
        delta, self._reward = reward - self._reward, reward
        return float(delta), reward > 1.0 - 1e-6

    def oracle_action(self) -> dict:
        """The expert's next action (``Task.oracle``), in the action space's layout."""
        pick, place = self.task.oracle(self.world)
        return {"pick": pick, "place": place}

    def render(self):
        return None if self._last is None else self._last.color

    def close(self) -> None:
        if self.world is not None:
            self.world.close()
        self.world = self.arm = None

    def observe(self) -> dict:
        """Render the cameras and fuse them into the observation."""
        self._last = self.world.heightmap(self.workspace)
        return {"color": self._last.color, "height": self._last.height}

    def _info(self) -> dict:
        """``reward``: the task's reward so far; ``ravens_reward``: the reward as Ravens keeps it
        (``RavensScore``; at most 1, and it stays once it gets there)."""
        return {"task": self.task_name, "reward": self._reward, "ravens_reward": self._ravens.total,
                "steps": self._steps}
