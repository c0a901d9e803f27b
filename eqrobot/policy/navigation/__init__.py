"""Graph navigation: maps, geometric graphs, reference planners and learned E(2)-equivariant value iteration."""
