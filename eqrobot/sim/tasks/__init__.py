"""The tabletop tasks, one file each; ``TASKS`` maps the task name to its class."""

from __future__ import annotations

from eqrobot.sim.tasks.align_box_corner import AlignBoxCorner
from eqrobot.sim.tasks.assembling_kits import AssemblingKits
from eqrobot.sim.tasks.base import Goal, Task
from eqrobot.sim.tasks.block_insertion import BlockInsertion
from eqrobot.sim.tasks.packing_boxes import PackingBoxes
from eqrobot.sim.tasks.palletizing_boxes import PalletizingBoxes
from eqrobot.sim.tasks.place_red_in_green import PlaceRedInGreen
from eqrobot.sim.tasks.stack_block_pyramid import StackBlockPyramid
from eqrobot.sim.tasks.towers_of_hanoi import TowersOfHanoi

TASKS: dict[str, type[Task]] = {
    BlockInsertion.name: BlockInsertion,
    PlaceRedInGreen.name: PlaceRedInGreen,
    StackBlockPyramid.name: StackBlockPyramid,
    AlignBoxCorner.name: AlignBoxCorner,
    AssemblingKits.name: AssemblingKits,
    PackingBoxes.name: PackingBoxes,
    TowersOfHanoi.name: TowersOfHanoi,
    PalletizingBoxes.name: PalletizingBoxes,
}


def make_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task '{name}'; known: {', '.join(sorted(TASKS))}")
    return TASKS[name]()


__all__ = ["TASKS", "Goal", "Task", "make_task"]
