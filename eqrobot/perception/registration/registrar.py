"""The registration inference object: ``Registrar()(source, target) -> RegistrationResult``.

Method ``eq`` (default): rotation-invariant learned descriptors -> mutual/ratio matching
-> deterministic second-order-compatibility fit -> point-to-plane ICP. ``fpfh``, ``fgr``
and ``icp`` run Open3D's methods through the same preprocessing and ICP refinement.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from eqrobot.device import resolve_device
from eqrobot.geometry.types import PointCloud
from eqrobot.io.checkpoint import load_checkpoint
from eqrobot.perception.registration import baselines
from eqrobot.perception.registration.estimator import robust_rigid_fit
from eqrobot.perception.registration.matching import match_descriptors
from eqrobot.perception.registration.model import (
    DescriptorConfig,
    DescriptorNet,
    descriptor_inputs,
    fold_batch_norm,
)
from eqrobot.perception.registration.preprocess import PreparedCloud, estimate_voxel_size, prepare
from eqrobot.perception.registration.refine import evaluate_alignment, fitness_scores, icp_point_to_plane
from eqrobot.perception.registration.result import RegistrationResult
from eqrobot.resources import share_file

METHODS = ("eq", "fpfh", "fgr", "icp")
DEFAULT_WEIGHTS = "models/registration/descriptor.safetensors"


@dataclass
class RegistrarConfig:
    method: str = "eq"
    voxel: float | None = None  # metres; None: estimated from the target cloud
    weights: str | None = None  # None: the shipped weights
    descriptor: str = "learned"  # learned | fpfh (ablation: our estimator on FPFH matches)
    device: str = "auto"
    max_matches: int = 1000
    top_k: int = 1  # target candidates proposed per source point
    keypoints: int = 1000  # points per cloud that get a descriptor (all points still form the patches)
    inlier_voxels: float = 2.5  # correspondence inlier distance, in voxels
    seeds: int = 100  # consensus sets grown by the robust fit
    consensus: int = 30  # correspondences per consensus set
    alternatives: int = 3  # clearly different runner-up poses also refined; the best geometric fit wins
    icp: bool = True
    refine_all: bool = False  # ICP every candidate instead of only the best-scoring one (slower)
    icp_voxels: float = 1.5  # ICP correspondence distance, in voxels
    seed: int = 0  # used only by Open3D RANSAC ('fpfh')
    # Acceptance: the transform is trusted (converged) when all three hold. None takes the
    # thresholds calibrated with the weights (method eq), else 12 inliers, fitness 0.2
    # and no ambiguity limit.
    min_inliers: int | None = None
    min_fitness: float | None = None
    max_ambiguity: float | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got '{self.method}'")
        if self.descriptor not in ("learned", "fpfh"):
            raise ValueError(f"descriptor must be 'learned' or 'fpfh', got '{self.descriptor}'")
        if self.voxel is not None and not self.voxel > 0:
            raise ValueError(f"voxel must be positive, got {self.voxel}")

    def to_dict(self) -> dict:
        return asdict(self)


def _points(cloud) -> np.ndarray:
    pts = cloud.points if isinstance(cloud, PointCloud) else np.asarray(cloud, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"expected an (N, 3) point array, got shape {pts.shape}")
    return pts


def load_descriptor(weights: str | Path | None, device: str) -> DescriptorNet:
    """The descriptor network with its weights; ``net.acceptance`` holds the calibrated thresholds."""
    path = Path(weights) if weights else share_file(DEFAULT_WEIGHTS)
    tensors, meta = load_checkpoint(path, device)
    # Weights from before the strided patch have no "stride": they used the nearest points.
    net = DescriptorNet(DescriptorConfig(**{"stride": 1, **meta.get("descriptor", {})})).to(device)
    net.load_state_dict(tensors)
    net = fold_batch_norm(net)
    net.acceptance = meta.get("acceptance", {})
    return net


@dataclass
class Registrar:
    config: RegistrarConfig = field(default_factory=RegistrarConfig)

    def __post_init__(self) -> None:
        self.device = resolve_device(self.config.device).device
        self.net = None
        calibrated = {}
        if self.config.method == "eq" and self.config.descriptor == "learned":
            self.net = load_descriptor(self.config.weights, self.device)
            calibrated = self.net.acceptance
        self.min_inliers = self.config.min_inliers or calibrated.get("min_inliers", 12)
        self.min_fitness = (self.config.min_fitness if self.config.min_fitness is not None
                            else calibrated.get("min_fitness", 0.2))
        self.max_ambiguity = (self.config.max_ambiguity if self.config.max_ambiguity is not None
                              else calibrated.get("max_ambiguity", 1.0))

    # --- stages ------------------------------------------------------------------

    def voxel_for(self, target_points: np.ndarray) -> float:
        return self.config.voxel or estimate_voxel_size(target_points)

    def prepare(self, cloud, voxel: float) -> PreparedCloud:
        method = self.config.method
        needs_fpfh = method in ("fpfh", "fgr") or (method == "eq" and self.config.descriptor != "learned")
        return prepare(_points(cloud), voxel, fpfh=needs_fpfh)

    def keypoint_indices(self, p: PreparedCloud) -> np.ndarray:
        """A fixed-seed subset of at most ``keypoints`` points: the same cloud always gets the same subset."""
        if len(p) <= self.config.keypoints:
            return np.arange(len(p))
        return np.sort(np.random.default_rng(0).choice(len(p), self.config.keypoints, replace=False))

    @torch.no_grad()
    def describe(self, p: PreparedCloud, keys: np.ndarray) -> np.ndarray:
        if self.net is None:
            f = p.fpfh[keys]
            return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        x = descriptor_inputs(p.points, p.normals, p.voxel, self.net.config, keys, p.normal_ok)
        return self.net(x.ppf.to(self.device), x.mask.to(self.device)).cpu().numpy()

    # --- entry points ------------------------------------------------------------

    def __call__(self, source, target, init: np.ndarray | None = None) -> RegistrationResult:
        """Register ``source`` onto ``target`` (``PointCloud`` or ``(N, 3)`` arrays)."""
        start = time.perf_counter()
        tgt_pts = _points(target)
        voxel = self.voxel_for(tgt_pts)
        src = self.prepare(source, voxel)
        tgt = self.prepare(tgt_pts, voxel)
        result = self.register_prepared(src, tgt, init)
        result.timings = {"preprocess": time.perf_counter() - start - result.time_s, **result.timings}
        return result

    def register_prepared(self, src: PreparedCloud, tgt: PreparedCloud,
                          init: np.ndarray | None = None) -> RegistrationResult:
        method = self.config.method
        timings: dict[str, float] = {}
        num_inliers, ambiguity = -1, 0.0
        if method == "eq":
            candidates, num_inliers, ambiguity = self._global_eq(src, tgt, timings)
        elif method == "fpfh":
            T, timings["global"] = baselines.fpfh_ransac(src, tgt, self.config.seed)
            candidates = [T]
        elif method == "fgr":
            T, timings["global"] = baselines.fgr(src, tgt)
            candidates = [T]
        else:
            T, timings["global"] = baselines.icp_only(src, tgt, init)
            candidates = [T]
        if init is not None and method != "icp":
            candidates.append(np.asarray(init, dtype=np.float64))
        T, fitness, rmse = self._refine(src, tgt, candidates, timings)
        if num_inliers < 0:
            num_inliers = int(round(fitness * len(src)))
        converged = (num_inliers >= self.min_inliers and fitness >= self.min_fitness
                     and ambiguity <= self.max_ambiguity)
        return RegistrationResult(T, fitness, rmse, num_inliers, converged, method, timings, src.voxel, ambiguity)

    def _global_eq(self, src: PreparedCloud, tgt: PreparedCloud, timings: dict) -> tuple[list, int, float]:
        """Pose candidates (the best-supported first, then clearly different runners-up),
        the best one's inlier count and the ambiguity."""
        t = time.perf_counter()
        k_src, k_tgt = self.keypoint_indices(src), self.keypoint_indices(tgt)
        d_src, d_tgt = self.describe(src, k_src), self.describe(tgt, k_tgt)
        timings["features"] = time.perf_counter() - t
        t = time.perf_counter()
        pairs, _ = match_descriptors(d_src, d_tgt, self.config.max_matches, self.config.top_k)
        timings["match"] = time.perf_counter() - t
        t = time.perf_counter()
        fit = robust_rigid_fit(src.points[k_src[pairs[:, 0]]], tgt.points[k_tgt[pairs[:, 1]]],
                               self.config.inlier_voxels * src.voxel, self.config.seeds, self.config.consensus,
                               alternatives=self.config.alternatives)
        timings["estimate"] = time.perf_counter() - t
        alternatives = [] if fit.alternatives is None else list(fit.alternatives)
        return [fit.transform, *alternatives], len(fit.inliers), fit.ambiguity

    def _refine(self, src: PreparedCloud, tgt: PreparedCloud, candidates: list, timings: dict
                ) -> tuple[np.ndarray, float, float]:
        """Refine the candidate poses with ICP and keep the one that fits the geometry best.

        With ``refine_all`` false, candidates are first scored without refinement at the
        looser correspondence distance and only the winner pays for ICP (faster; a pose
        that ICP would have pulled in can lose)."""
        t = time.perf_counter()
        if len(candidates) > 1 and not self.config.refine_all:
            scores = fitness_scores(src.points, tgt.points, candidates, self.config.inlier_voxels * src.voxel)
            candidates = [candidates[int(np.argmax(scores))]]
        distance = self.config.icp_voxels * src.voxel
        best = None
        for cand in candidates:
            if self.config.icp:
                out = icp_point_to_plane(src.pcd, tgt.pcd, cand, distance)
            else:
                out = (cand, *evaluate_alignment(src.pcd, tgt.pcd, cand, distance))
            if best is None or out[1] > best[1]:
                best = out
        timings["refine"] = time.perf_counter() - t
        return best
