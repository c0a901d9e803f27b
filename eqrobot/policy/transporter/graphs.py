"""CUDA graphs for acting on a GPU (``eqrobot.cuda_graphs``): the eq agent's three steerable
U-Nets launch hundreds of small kernels per action, so replaying them as one graph is what
brings an action under the 20 ms target; on a CPU nothing changes.
"""

from __future__ import annotations

import copy

from torch import nn

from eqrobot.cuda_graphs import GraphedNetwork


def graphed(model: nn.Module, names: tuple[str, ...]) -> nn.Module:
    """A twin of ``model`` sharing its weights whose submodules ``names`` replay CUDA graphs;
    ``model`` itself is left as it is (training goes on with it). Build it after the last
    weight change: a graph replays the tensors it recorded."""
    twin = copy.copy(model)
    twin._modules = dict(model._modules)  # its own table of submodules, the same submodules
    for name in names:
        twin._modules[name] = GraphedNetwork(model._modules[name])
    return twin
