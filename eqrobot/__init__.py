"""eqrobot: symmetry-aware (SE(3)/E(2) equivariant) perception and policy models for robots.

Layers (imports point down only): ``ros`` and ``cli`` adapters -> ``sim`` ->
capability packages -> ``equivariant`` -> ``geometry`` / ``io``. Nothing below
``ros`` imports rclpy.
"""

__version__ = "0.1.0"
