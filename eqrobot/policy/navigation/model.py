"""Learned value iteration on geometric graphs (MP-VIN).

A message-passing encoder gives every directed edge a cost; value iteration runs as min-plus
message passing (``V_i <- min(V_i, min_j c_ij + V_j)``, the goal held at 0) until no value
changes, so a network trained on small maps plans on maps of any size. Two encoders:

- ``eq``: E(2)-equivariant. Node features are scalars and SO(2)-steerable vectors of rotation
  frequencies 1..K (complex numbers: turning the map by theta multiplies frequency k by
  e^{ik theta}); a message from j to i depends on the edge vector p_j - p_i only through its
  length (radial functions) and its direction as e^{ik phi}, the steerable basis of SO(2)
  (escnn's irreps of SO(2), tested against them). All weights are real, so a reflection
  conjugates the vectors and the costs, read from real parts and lengths, are unchanged:
  turning, reflecting or shifting the map moves the plan with it, for any angle.
- ``gnn``: the same layers and widths with the edge vector's raw (dx, dy) as message input: a
  plain GNN-VIN with no symmetry built in (translations only).

Lengths enter divided by the graph's median edge length and costs leave multiplied by it, so
a graph sampled more or less densely gives costs in metres all the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from torch import nn
from torch.nn import functional

KINDS = ("eq", "gnn")
COST_SHARPNESS = 20.0
BIG = 1e6  # the value of a node the goal cannot (yet) be reached from; finite, so gradients stay finite


@dataclass
class NavModelConfig:
    kind: str = "eq"  # eq (E(2)-equivariant) | gnn (plain)
    hidden: int = 32  # scalar channels per node
    vectors: int = 8  # eq: steerable channels per frequency (complex)
    frequencies: int = 2  # eq: highest rotation frequency K
    layers: int = 3  # message-passing layers before the cost read-out
    radial: int = 8  # Gaussian radial basis functions of the scaled edge length

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"planner kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if min(self.hidden, self.vectors, self.frequencies, self.layers, self.radial) < 1:
            raise ValueError("hidden, vectors, frequencies, layers and radial must be positive")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, options: dict) -> NavModelConfig:
        unknown = sorted(options.keys() - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"navigation model settings this version does not know: {', '.join(unknown)}")
        return cls(**options)


@dataclass
class GraphTensors:
    """A graph (or a batch of disjoint graphs) as the network reads it."""

    positions: torch.Tensor  # (N, 2) metres
    edges: torch.Tensor  # (E, 2) long, source -> target (moving from source to target)
    clearance: torch.Tensor  # (N,) metres
    scale: torch.Tensor  # (N,) the median edge length of each node's graph

    @property
    def num_nodes(self) -> int:
        return len(self.positions)


class MPVIN(nn.Module):
    def __init__(self, config: NavModelConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or NavModelConfig()
        self.node_in = nn.Linear(3, c.hidden)
        layer = SteerableLayer if c.kind == "eq" else PlainLayer
        self.layers = nn.ModuleList([layer(c) for _ in range(c.layers)])
        width = 2 * c.hidden + (c.radial + 1 + 2 * c.frequencies * c.vectors if c.kind == "eq" else 2)
        self.cost_head = nn.Sequential(nn.Linear(width, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 1))

    def node_features(self, g: GraphTensors,
                      geo: EdgeGeometry | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(scalars (N, hidden), steerable vectors (N, K, V) complex, or None for gnn)."""
        geo = geo or EdgeGeometry(g, self.config)
        degree = geo.out_edges
        s = self.node_in(torch.stack([g.clearance / g.scale, degree / 8.0, torch.ones_like(degree)], dim=1))
        z = s.new_zeros((g.num_nodes, self.config.frequencies, self.config.vectors), dtype=torch.complex64) \
            if self.config.kind == "eq" else None
        for layer in self.layers:
            s, z = layer(s, z, geo)
        return s, z

    def edge_costs(self, g: GraphTensors) -> torch.Tensor:
        """(E,) positive cost of each directed edge, in metres."""
        geo = EdgeGeometry(g, self.config)
        s, z = self.node_features(g, geo)
        src, dst = g.edges[:, 0], g.edges[:, 1]
        if self.config.kind == "eq":
            # invariant to turns and reflections: the length and the vectors' components along the edge
            along = [(z[n] * geo.phase.conj()[:, :, None]).real.flatten(1) for n in (src, dst)]
            parts = [s[src], s[dst], geo.rbf, geo.length[:, None], *along]
        else:
            parts = [s[src], s[dst], geo.delta]  # the plain network sees (dx, dy) as they are
        # softplus keeps costs positive (value iteration needs it); this sharp one is the identity
        # within 1e-5 above 0.5, where edges' scaled lengths lie
        return functional.softplus(self.cost_head(torch.cat(parts, dim=1)), beta=COST_SHARPNESS).squeeze(1) \
            * geo.edge_scale

    def forward(self, g: GraphTensors, goals: torch.Tensor,
                max_iters: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(values (N,), edge costs (E,)) for ``goals`` (one node index per graph of the batch)."""
        costs = self.edge_costs(g)
        return value_iteration(costs, g.edges, goals, g.num_nodes, max_iters), costs


def value_iteration(costs: torch.Tensor, edges: torch.Tensor, goals: torch.Tensor, num_nodes: int,
                    max_iters: int | None = None) -> torch.Tensor:
    """Min-plus value iteration until no value changes (at most ``max_iters``, the node count
    by default: any shortest path has fewer hops). Values stay ``BIG`` where no goal is reachable."""
    values = costs.new_full((num_nodes,), BIG)
    values = values.index_fill(0, goals, 0.0)
    src, dst = edges[:, 0], edges[:, 1]
    for _ in range(max_iters or num_nodes):
        candidate = costs + values[dst]
        updated = values.scatter_reduce(0, src, candidate, reduce="amin", include_self=True)
        if torch.equal(updated, values):
            break
        values = updated
    return values


class EdgeGeometry:
    """What messages read of an edge: scaled length, its radial basis, and either its steerable
    directions e^{ik phi} (eq) or its raw scaled (dx, dy) (gnn)."""

    def __init__(self, g: GraphTensors, c: NavModelConfig) -> None:
        src, dst = g.edges[:, 0], g.edges[:, 1]
        self.src, self.dst, self.num_nodes = src, dst, g.num_nodes
        self.edge_scale = g.scale[src]
        self.delta = (g.positions[dst] - g.positions[src]) / self.edge_scale[:, None]
        self.length = self.delta.norm(dim=1)
        centres = torch.linspace(0.0, 3.0, c.radial, device=self.delta.device)
        self.rbf = torch.exp(-((self.length[:, None] - centres) / (3.0 / c.radial)) ** 2)
        angle = torch.atan2(self.delta[:, 1], self.delta[:, 0])
        k = torch.arange(1, c.frequencies + 1, device=angle.device, dtype=angle.dtype)
        self.phase = torch.polar(torch.ones_like(angle[:, None] * k), angle[:, None] * k)  # (E, K)
        self.out_edges = torch.bincount(src, minlength=g.num_nodes).to(self.delta.dtype)

    def mean_into_source(self, messages: torch.Tensor) -> torch.Tensor:
        """Average of the messages of each node's out-edges (its neighbours' messages to it)."""
        total = messages.new_zeros((self.num_nodes, *messages.shape[1:]))
        total = total.index_add(0, self.src, messages)
        return total / self.out_edges.clamp(min=1).view(-1, *([1] * (messages.dim() - 1)))


class SteerableLayer(nn.Module):
    """Scalars s (N, C) and frequency-k vectors z (N, K, V) -> the same, E(2)-equivariantly."""

    def __init__(self, c: NavModelConfig) -> None:
        super().__init__()
        k, v, h = c.frequencies, c.vectors, c.hidden
        self.k, self.v, self.h = k, v, h
        # radial gates of the four paths: s->s (h), z->s (h), s->z (k*v), z->z (k*v)
        self.radial = nn.Sequential(nn.Linear(c.radial, 32), nn.SiLU(), nn.Linear(32, 2 * h + 2 * k * v))
        self.s_to_s = nn.Linear(h, h)
        self.z_to_s = nn.Linear(k * v, h)
        self.s_to_z = nn.Linear(h, k * v)
        self.z_to_z = nn.Parameter(torch.randn(k, v, v) / v**0.5)
        self.update = nn.Linear(2 * h, h)
        self.gate = nn.Linear(h, k * v)
        self.norm = nn.LayerNorm(h)

    def forward(self, s: torch.Tensor, z: torch.Tensor, geo: EdgeGeometry) -> tuple[torch.Tensor, torch.Tensor]:
        k, v, h = self.k, self.v, self.h
        r = self.radial(geo.rbf)
        r_ss, r_zs, r_sz, r_zz = r[:, :h], r[:, h:2 * h], r[:, 2 * h:2 * h + k * v], r[:, 2 * h + k * v:]
        s_j, z_j = s[geo.dst], z[geo.dst]
        along = (z_j * geo.phase.conj()[:, :, None]).real  # invariant components, (E, K, V)
        msg_s = self.s_to_s(s_j) * r_ss + self.z_to_s(along.flatten(1)) * r_zs
        turned = self.s_to_z(s_j).view(-1, k, v) * r_sz.view(-1, k, v) * geo.phase[:, :, None]
        mixed = torch.einsum("ekv,kvw->ekw", z_j, self.z_to_z.to(z_j.dtype)) * r_zz.view(-1, k, v)
        msg_z = turned + mixed
        s = self.norm(s + functional.silu(self.update(torch.cat([s, geo.mean_into_source(msg_s)], dim=1))))
        z = (z + geo.mean_into_source(msg_z)) * torch.sigmoid(self.gate(s)).view(-1, k, v)
        return s, z


class PlainLayer(nn.Module):
    """The baseline's layer: messages from (s_j, dx, dy) through an MLP."""

    def __init__(self, c: NavModelConfig) -> None:
        super().__init__()
        self.message = nn.Sequential(nn.Linear(c.hidden + 2, 64), nn.SiLU(), nn.Linear(64, c.hidden))
        self.update = nn.Linear(2 * c.hidden, c.hidden)
        self.norm = nn.LayerNorm(c.hidden)

    def forward(self, s: torch.Tensor, z, geo: EdgeGeometry) -> tuple[torch.Tensor, None]:
        msg = self.message(torch.cat([s[geo.dst], geo.delta], dim=1))
        s = self.norm(s + functional.silu(self.update(torch.cat([s, geo.mean_into_source(msg)], dim=1))))
        return s, None
