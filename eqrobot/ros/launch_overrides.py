"""Launch arguments that override a node's params file only when the user gives them.

A launch argument with a default, passed to the node after the params file, always wins over it:
editing the YAML would change nothing. So parameter arguments default to "" (not given) and the
launch file passes on only those given. Pure (no rclpy, no launch): launch files import it.
"""

from __future__ import annotations

import yaml


def given_parameters(arguments: dict, names) -> dict:
    """The launch ``arguments`` among ``names`` that were given (not ""), typed as YAML reads them,
    as ``ros2 launch`` types a parameter it passes on ("true" -> True, "0.5" -> 0.5)."""
    return {name: yaml.safe_load(arguments[name]) for name in names if arguments.get(name, "") != ""}
