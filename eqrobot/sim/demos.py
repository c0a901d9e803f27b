"""Oracle demonstrations: run a task's expert in the simulator and keep the episodes that
succeed (Ravens protocol: training seeds even, test seeds odd; reward > 0.99 kept)."""

from __future__ import annotations

import warnings
from pathlib import Path

import gymnasium

from eqrobot.policy.transporter.data import Episode, episode_path, read_episode, write_episode
from eqrobot.progress import progress
from eqrobot.sim import ENV_IDS

SUCCESS = 0.99


def seeds(split: str, start: int = 0):
    """Training seeds are even, test seeds odd."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got '{split}'")
    seed = 2 * start + (split == "test")
    while True:
        yield seed
        seed += 2


def run_oracle(env, seed: int) -> tuple[Episode, float]:
    """One oracle episode (at most the task's ``max_steps`` actions) and its total reward. The
    observation after the last action is not rendered: demonstrations do not use it."""
    env = env.unwrapped
    obs, _ = env.reset(seed=seed)
    color, height, picks, places, rewards = [], [], [], [], []
    for step in range(env.task.max_steps):
        action = env.oracle_action()
        color.append(obs["color"])
        height.append(obs["height"])
        picks.append(action["pick"])
        places.append(action["place"])
        reward, terminated = env.act(action)
        rewards.append(reward)
        if terminated:
            break
        if step + 1 < env.task.max_steps:
            obs = env.observe()
    ws = env.workspace
    episode = Episode(color, height, picks, places, rewards, ws.array, ws.pixel_size, env.task_name, seed)
    return episode, float(sum(rewards))


def collect(task: str, n: int, out: str | Path, split: str = "train", max_tries: int | None = None,
            gripper: str = "suction") -> dict:
    """Write ``n`` successful oracle episodes of ``task`` into ``out`` (one file per seed), run
    with ``gripper`` (``eqrobot.sim.env.GRIPPERS``).
    Episodes already there are kept (the job resumes); an unreadable one is made again. Seeds
    whose oracle fails are skipped. Returns counts."""
    if task not in ENV_IDS:
        raise ValueError(f"unknown task '{task}'; known: {', '.join(sorted(ENV_IDS))}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env = gymnasium.make(ENV_IDS[task], gripper=gripper)
    kept = made = failed = 0
    bar = progress(total=n, desc=f"demos {task}", unit="episode")
    try:
        for tries, seed in enumerate(seeds(split)):
            if kept == n:
                break
            if max_tries is not None and tries >= max_tries:
                raise RuntimeError(f"only {kept} of {n} oracle episodes succeeded in {tries} seeds")
            path = episode_path(out, seed)
            if path.exists():
                try:
                    read_episode(path)
                    kept += 1
                    bar.update()
                    continue
                except ValueError as e:
                    warnings.warn(f"{e}; making it again", stacklevel=2)
            episode, total = run_oracle(env, seed)
            if total < SUCCESS:
                failed += 1
                path.unlink(missing_ok=True)
                continue
            write_episode(path, episode)
            kept += 1
            made += 1
            bar.update()
    finally:
        bar.close()
        env.close()
    return {"task": task, "split": split, "episodes": kept, "made": made, "failed_seeds": failed, "out": str(out)}
