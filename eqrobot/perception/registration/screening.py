"""Choosing one pose among the estimator's candidates.

Each candidate is refined on a few source points (a pose fitted to a few noisy matches is
often a few degrees off, so unrefined poses are compared on luck) and judged two ways: how
well it lays the source on the target surface (``surface_score``) and how many matches it
explains (``match_support``). The surfaces decide when they can: at low overlap a wrong pose
often explains more matches. When several distinct poses fit the surfaces about equally
well (a symmetric object), the matches decide, as only they carry what tells the poses apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from eqrobot.geometry.transforms import rotation_error
from eqrobot.perception.registration.estimator import msac_scores, residuals
from eqrobot.perception.registration.preprocess import PreparedCloud
from eqrobot.perception.registration.refine import refine_poses, surface_fit

OFF_SURFACE_FLOOR = 0.05  # voxels: closer than this is noise, not a better fit


class Matches(NamedTuple):
    source: np.ndarray  # (M, 3) matched source points
    target: np.ndarray  # (M, 3) their partners
    threshold: float  # inlier distance, metres


@dataclass(frozen=True)
class Screening:
    points: int = 150  # source points that refine and judge every candidate ...
    point_share: float = 0.12  # ... and at most this share of the source (twice that in the final round)
    iterations: int = 3  # point-to-plane steps per candidate
    by_surface: int = 5  # finalists: the best surface scores ...
    by_support: int = 2  # ... and the best match supports
    final_points: int = 300
    final_iterations: int = 4
    tie: float = 0.75  # finalists within this share of the best surface score count as equal fits


def surface_score(share: np.ndarray, off_surface: np.ndarray, voxel: float) -> np.ndarray:
    """Share of points on the target surface over their RMS distance off it (in voxels,
    floored at ``OFF_SURFACE_FLOOR``). At low overlap the share alone prefers a wrong pose
    that spreads the view over more of the target; the right pose puts fewer points there,
    but right on the surface."""
    return share / np.maximum(off_surface / voxel, OFF_SURFACE_FLOOR)


def match_support(poses: np.ndarray, matches: Matches | None) -> np.ndarray:
    """MSAC support of each pose over the matches (zeros without matches)."""
    if matches is None:
        return np.zeros(len(poses))
    return msac_scores(residuals(poses, matches.source, matches.target), matches.threshold)


def judge(src: PreparedCloud, tgt: PreparedCloud, poses: np.ndarray, matches: Matches | None, n_points: int,
          iterations: int, distance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(refined poses, surface scores, match supports)``, refined and scored on a fixed-seed
    subset of ``n_points`` source points."""
    keep = np.sort(np.random.default_rng(0).choice(len(src), min(n_points, len(src)), replace=False))
    pts, nrm = src.points[keep], src.normals[keep]
    poses = refine_poses(pts, poses, tgt.index, tgt.normals, tgt.normal_ok, distance, iterations)
    score = surface_score(*surface_fit(pts, nrm, poses, tgt.index, tgt.normals, distance), src.voxel)
    return poses, score, match_support(poses, matches)


def choose_pose(src: PreparedCloud, tgt: PreparedCloud, poses: np.ndarray, matches: Matches | None,
                distance: float, screening: Screening = Screening()) -> tuple[np.ndarray, float]:
    """``(chosen pose, ambiguity)``; see the module docstring. The ambiguity is the best
    surface score of a clearly different finalist relative to the chosen pose's."""
    s = screening
    first = _points_to_judge(s.points, s.point_share, len(src))
    poses, score, support = judge(src, tgt, poses, matches, first, s.iterations, distance)
    finalists = list(dict.fromkeys([*np.argsort(-score, kind="stable")[: s.by_surface],
                                    *np.argsort(-support, kind="stable")[: s.by_support]]))
    final = _points_to_judge(s.final_points, 2 * s.point_share, len(src))
    poses, score, support = judge(src, tgt, poses[finalists], matches, final, s.final_iterations, distance)
    tied = score >= s.tie * score.max()
    best = int(np.lexsort((-score, -np.where(tied, support, -np.inf)))[0])
    return poses[best], ambiguity(poses, score, best)


def _points_to_judge(most: int, share: float, n_source: int) -> int:
    """At most ``most`` and at most ``share`` of the source's points, but never fewer than 30."""
    return min(most, max(30, int(share * n_source)))


def ambiguity(poses: np.ndarray, scores: np.ndarray, chosen: int, distinct_deg: float = 10.0) -> float:
    """Surface score of the best pose more than ``distinct_deg`` away from the chosen one,
    relative to the chosen one's: near (or above) 1 when two different poses fit equally well."""
    distinct = np.degrees(rotation_error(poses, poses[chosen])) > distinct_deg
    if not distinct.any() or scores[chosen] <= 0:
        return 0.0
    return float(scores[distinct].max() / scores[chosen])
