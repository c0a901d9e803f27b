"""Run 0 of a benchmark cell (first N demonstrations, seed 0), trained as benchmark.run_one trains it, on CUDA."""
import sys

import torch

from eqrobot.policy.transporter.benchmark import run_name
from eqrobot.policy.transporter.model import TransporterConfig
from eqrobot.policy.transporter.train import TrainConfig, train

torch.set_num_threads(1)
root, task, agent, demos, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
train(f"{root}/data/{task}", f"{root}/runs/{run_name(task, agent, demos)}",
      TrainConfig(steps=steps, seed=0, demos=demos, checkpoint_every=50, device="cuda"),
      TransporterConfig(agent=agent), task=task)
