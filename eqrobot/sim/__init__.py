"""PyBullet simulation backend (DIRECT mode, headless, deterministic per seed): worlds, cameras,
generated assets, the tabletop pick-and-place tasks and their gymnasium environments.

Importing this package registers the environments: ``gymnasium.make("eqrobot/BlockInsertion-v0")``.
"""

import gymnasium

from eqrobot.sim.tasks import TASKS


def _env_id(task: str) -> str:
    return "eqrobot/" + "".join(word.capitalize() for word in task.split("-")) + "-v0"


ENV_IDS = {task: _env_id(task) for task in TASKS}
for _task, _id in ENV_IDS.items():
    if _id not in gymnasium.registry:
        gymnasium.register(id=_id, entry_point="eqrobot.sim.env:PickPlaceEnv", kwargs={"task": _task},
                           max_episode_steps=TASKS[_task].max_steps)
