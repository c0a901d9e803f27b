"""A registration problem with its ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RegistrationPair:
    """``transform`` (4x4) maps ``source`` points into the ``target`` frame:
    ``target ~ apply(transform, source)`` on the overlapping part."""

    source: np.ndarray
    target: np.ndarray
    transform: np.ndarray
    name: str = ""
    overlap: float = float("nan")
    info: dict = field(default_factory=dict)
