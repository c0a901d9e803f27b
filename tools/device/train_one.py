"""One training run of the place-red-in-green cell, as benchmark.run_one trains it, on CUDA."""
import os
import sys

import torch

from eqrobot.policy.transporter.benchmark import demos_of_run, run_name
from eqrobot.policy.transporter.model import TransporterConfig
from eqrobot.policy.transporter.train import TrainConfig, train

torch.set_num_threads(1)
root, agent, demos, run, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
task = "place-red-in-green"
folder = f"{root}/runs/{run_name(task, agent, demos, run)}"
train(f"{root}/data/{task}", folder,
      TrainConfig(steps=steps, seed=run, demos=demos, episodes=demos_of_run(run, demos, 10),
                  checkpoint_every=50, device=os.environ.get("EQ_DEVICE", "cuda")),
      TransporterConfig(agent=agent), task=task)
