"""What a registration returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RegistrationResult:
    """``transform`` (4x4) maps source points into the target frame.

    ``fitness``: share of (downsampled) source points with a target point within the
    inlier distance after alignment; ``inlier_rmse``: RMS distance of those points;
    ``num_inliers``: correspondences consistent with the transform (global methods);
    ``ambiguity``: how well the best clearly different (> 10 deg) candidate pose fits the
    surfaces, relative to the chosen one (method eq; near 1 when e.g. a symmetric object
    fits several ways, 0 when every candidate agrees); ``plane_rmse``: RMS
    distance of the inliers along the target's normals (how far they are off the surface);
    ``converged``: the evidence is strong enough to trust the transform (see the
    registrar's calibration); ``timings``: seconds per stage.
    """

    transform: np.ndarray
    fitness: float
    inlier_rmse: float
    num_inliers: int
    converged: bool
    method: str
    timings: dict[str, float] = field(default_factory=dict)
    voxel: float = float("nan")
    ambiguity: float = 0.0
    plane_rmse: float = float("nan")

    @property
    def time_s(self) -> float:
        return float(sum(self.timings.values()))

    def to_json(self) -> dict:
        return {
            "transform": np.asarray(self.transform).tolist(),
            "fitness": float(self.fitness),
            "inlier_rmse": float(self.inlier_rmse),
            "num_inliers": int(self.num_inliers),
            "converged": bool(self.converged),
            "method": self.method,
            "time_s": self.time_s,
            "timings": {k: float(v) for k, v in self.timings.items()},
            "voxel": float(self.voxel),
            "ambiguity": float(self.ambiguity),
            "plane_rmse": float(self.plane_rmse),
        }
