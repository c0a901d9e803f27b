"""Success of a pick-and-place agent in the simulator, over the test seeds (odd, Ravens protocol)."""

from __future__ import annotations

import numpy as np

from eqrobot.progress import progress


def evaluate(agent, task: str, episodes: int, first_seed: int = 1, gripper: str = "suction") -> dict:
    """Run ``episodes`` test episodes (seeds first_seed, first_seed + 2, ...) with the arm's
    ``gripper``; each ends when the task is done or after the task's ``max_steps`` actions.
    Returns the summary with per-episode rewards (an episode's total reward is its partial credit;
    ``step_rewards``: each action's, which show where an episode went wrong)
    and ``ravens_reward``, the mean total reward as Ravens keeps it (the published scores' measure,
    ``eqrobot.sim.tasks.ravens_score``), which differs from ``mean_reward`` where Ravens' pose test,
    goal steps or metric differ from the task's own."""
    import gymnasium

    from eqrobot.sim import ENV_IDS
    from eqrobot.sim.tasks.ravens_score import VERSION

    if task not in ENV_IDS:
        raise ValueError(f"unknown task '{task}'; known: {', '.join(sorted(ENV_IDS))}")
    env = gymnasium.make(ENV_IDS[task], gripper=gripper)
    if env.unwrapped.workspace != agent.workspace:
        raise ValueError(f"the agent was trained on workspace {agent.workspace}, the task uses "
                         f"{env.unwrapped.workspace}")
    rewards, step_rewards, ravens_rewards, successes = [], [], [], []
    try:
        for seed in progress(range(first_seed, first_seed + 2 * episodes, 2), desc=f"eval {task}", unit="episode"):
            obs, start = env.reset(seed=seed)
            steps, done, terminated, info = [], False, False, start
            while not done:
                obs, reward, terminated, truncated, info = env.step(agent(obs))
                steps.append(reward)
                done = terminated or truncated
            rewards.append(float(sum(steps)))
            step_rewards.append(steps)
            ravens_rewards.append(info["ravens_reward"] - start["ravens_reward"])
            successes.append(bool(terminated))
    finally:
        env.close()
    return {"task": task, "gripper": gripper, "episodes": episodes, "success_rate": float(np.mean(successes)),
            "mean_reward": float(np.mean(rewards)), "ravens_reward": float(np.mean(ravens_rewards)),
            "ravens_score_version": VERSION,
            "seeds": [first_seed, first_seed + 2 * (episodes - 1)],
            "rewards": rewards, "step_rewards": step_rewards}


def training_summary(agent) -> dict:
    """What a loaded agent's checkpoint says about its training: agent kind, demonstrations, steps."""
    meta = agent.meta
    return {"agent": meta.get("agent", "base"), "demos": meta.get("demos"), "steps": meta.get("step")}
