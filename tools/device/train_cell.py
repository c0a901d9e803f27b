"""One training run of a benchmark cell, trained as benchmark.run_one trains it (run r: seed r,
its demonstrations from demos_of_run), on CUDA (EQ_DEVICE=cpu for a check without a GPU).
Usage: train_cell.py ROOT TASK AGENT DEMOS RUN STEPS (ROOT/data/TASK in, ROOT/runs/<cell> out)."""
import os
import sys

import torch

from eqrobot.policy.transporter.benchmark import demos_of_run, run_name
from eqrobot.policy.transporter.model import TransporterConfig
from eqrobot.policy.transporter.train import TrainConfig, train

torch.set_num_threads(1)
root, task, agent = sys.argv[1:4]
demos, run, steps = (int(a) for a in sys.argv[4:7])
train(f"{root}/data/{task}", f"{root}/runs/{run_name(task, agent, demos, run)}",
      TrainConfig(steps=steps, seed=run, demos=demos, episodes=demos_of_run(run, demos, 10),
                  checkpoint_every=50, device=os.environ.get("EQ_DEVICE", "cuda")),
      TransporterConfig(agent=agent), task=task)
