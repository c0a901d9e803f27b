"""CUDA graphs for inference on a GPU: a network's kernels recorded once per input shape and
replayed. At one input per call the GPU idles between kernel launches when a network launches
hundreds of small kernels (steerable U-Nets, spectral layers, a density's post-processing), so
replaying them as one graph is what brings a call down to the time of the arithmetic; on a
CPU nothing changes. Used by the transporter agent and the pose predictor.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

MAX_SHAPES = 8  # graphs kept per network (one per batch shape seen); other shapes run eagerly


class GraphedNetwork(nn.Module):
    """``network`` in eval mode, replayed from a CUDA graph per input shape when its input is
    on a GPU and no gradient is wanted; run as it is otherwise, or if recording fails."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        self._graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}
        self._failed = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cuda" or torch.is_grad_enabled() or self.network.training or self._failed:
            return self.network(x)
        key = (tuple(x.shape), x.dtype, x.device)
        if key not in self._graphs:
            if len(self._graphs) >= MAX_SHAPES:
                return self.network(x)
            try:
                self._graphs[key] = self._record(x)
            except RuntimeError as e:  # an operation that cannot be recorded: act without graphs
                warnings.warn(f"CUDA graph recording failed, running the network eagerly: {e}", stacklevel=2)
                self._failed = True
                return self.network(x)
        graph, static_in, static_out = self._graphs[key]
        static_in.copy_(x)
        graph.replay()
        return static_out.clone()  # the next replay overwrites static_out

    def _record(self, x: torch.Tensor) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]:
        static_in = x.clone()
        side = torch.cuda.Stream(x.device)
        side.wait_stream(torch.cuda.current_stream(x.device))
        with torch.cuda.stream(side):  # warm-up: library handles and workspaces exist before recording
            for _ in range(2):
                self.network(static_in)
        torch.cuda.current_stream(x.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = self.network(static_in)
        return graph, static_in, static_out
