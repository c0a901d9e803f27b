"""The registration inference object: ``Registrar()(source, target) -> RegistrationResult``.

Method ``eq`` (default): rotation-invariant descriptors (the learned one by default, or it
and FPFH side by side) -> mutual/ratio matching -> deterministic second-order-compatibility fit ->
screening of the best distinct candidate poses against the surfaces (``screening``) ->
point-to-plane ICP. ``fpfh``, ``fgr`` and ``icp`` run Open3D's methods through the same
preprocessing and ICP refinement."""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from eqrobot.device import keep_freed_memory, resolve_device, torch_threads
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
from eqrobot.perception.registration.preprocess import PreparedCloud, compute_fpfh, estimate_voxel_size, prepare
from eqrobot.perception.registration.refine import evaluate_alignment, icp_point_to_plane, plane_rmse
from eqrobot.perception.registration.result import RegistrationResult
from eqrobot.perception.registration.screening import Matches, Screening, choose_pose
from eqrobot.resources import share_file

METHODS = ("eq", "fpfh", "fgr", "icp")
DESCRIPTORS = ("fused", "learned", "fpfh")
_INSTANCES = itertools.count()
DEFAULT_WEIGHTS = "models/registration/descriptor.safetensors"


@dataclass
class RegistrarConfig:
    method: str = "eq"
    voxel: float | None = None  # metres; None: estimated from the target cloud
    weights: str | None = None  # None: the shipped weights
    # learned: the learned descriptor alone (fast; the default); fused: the learned descriptor
    # and FPFH side by side (the two fail on different points, so matching on both finds more
    # right partners, for FPFH's cost); fpfh: FPFH alone (ablation: our estimator on FPFH matches).
    descriptor: str = "learned"
    fpfh_weight: float = 0.5  # FPFH's share of the fused descriptor's squared length
    fpfh_neighbours: int = 100  # FPFH over at most this many points within 5 voxels
    device: str = "auto"
    max_matches: int = 600
    top_k: int = 1  # target candidates proposed per source point
    keypoints: int = 600  # points per cloud that get a descriptor (all points still form the patches)
    # ... and at most this share of a cloud's points: on a small cloud (a few hundred points)
    # half the descriptor and matching time for some recall (see the model card's settings).
    keypoint_share: float = 0.5
    inlier_voxels: float = 2.5  # correspondence inlier distance, in voxels
    seeds: int = 1000  # consensus sets grown by the robust fit (at most one per match)
    consensus: int = 30  # correspondences per consensus set
    candidates: int = 60  # distinct best-supported poses screened (screening.choose_pose) ...
    candidates_per_match: float = 0.1  # ... and at most this many per match (fewer matches, fewer poses)
    screening: Screening = field(default_factory=Screening)
    icp: bool = True  # full-resolution point-to-plane ICP of the best candidate
    icp_voxels: float = 1.5  # ICP correspondence distance, in voxels
    seed: int = 0  # used only by Open3D RANSAC ('fpfh')
    # Acceptance: the transform is trusted (converged) when all four hold. None takes the
    # thresholds calibrated with the weights (method eq), else 12 inliers, fitness 0.2 and
    # no ambiguity or off-surface limit. The inliers' distance off the target surface (RMS
    # along its normals, in voxels) tells right from wrong poses best at low overlap, where
    # fitness cannot: a wrong pose keeps only chance neighbours, off the surface as often as on it.
    min_inliers: int | None = None
    min_fitness: float | None = None
    max_ambiguity: float | None = None
    max_plane_rmse_voxels: float | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got '{self.method}'")
        if self.descriptor not in DESCRIPTORS:
            raise ValueError(f"descriptor must be one of {DESCRIPTORS}, got '{self.descriptor}'")
        if not 0.0 <= self.fpfh_weight <= 1.0:
            raise ValueError(f"fpfh_weight must be within [0, 1], got {self.fpfh_weight}")
        if not 0.0 < self.keypoint_share <= 1.0:
            raise ValueError(f"keypoint_share must be within (0, 1], got {self.keypoint_share}")
        if self.voxel is not None and not self.voxel > 0:
            raise ValueError(f"voxel must be positive, got {self.voxel}")

    def to_dict(self) -> dict:
        return asdict(self)


def _points(cloud) -> np.ndarray:
    pts = cloud.points if isinstance(cloud, PointCloud) else np.asarray(cloud, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"expected an (N, 3) point array, got shape {pts.shape}")
    return pts


def _unit(f: np.ndarray) -> np.ndarray:
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


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
        self._instance = next(_INSTANCES)  # which registrar described a cloud (ids can be reused)
        keep_freed_memory()  # the pipeline's many few-megabyte arrays, without page faults each time
        self.device = resolve_device(self.config.device).device
        self.net = None
        calibrated = {}
        if self.config.method == "eq" and self.config.descriptor != "fpfh":
            self.net = load_descriptor(self.config.weights, self.device)
            calibrated = self.net.acceptance
        self.min_inliers = self.config.min_inliers or calibrated.get("min_inliers", 12)
        self.min_fitness = (self.config.min_fitness if self.config.min_fitness is not None
                            else calibrated.get("min_fitness", 0.2))
        self.max_ambiguity = (self.config.max_ambiguity if self.config.max_ambiguity is not None
                              else calibrated.get("max_ambiguity", float("inf")) or float("inf"))
        self.max_plane_rmse_voxels = (self.config.max_plane_rmse_voxels
                                      if self.config.max_plane_rmse_voxels is not None
                                      else calibrated.get("max_plane_rmse_voxels") or float("inf"))

    # --- stages ------------------------------------------------------------------

    def voxel_for(self, target_points: np.ndarray) -> float:
        return self.config.voxel or estimate_voxel_size(target_points)

    def prepare(self, cloud, voxel: float) -> PreparedCloud:
        method, descriptor = self.config.method, self.config.descriptor
        # Method eq computes FPFH only at its keypoints (describe), from oriented normals.
        return prepare(_points(cloud), voxel, fpfh=method in ("fpfh", "fgr"),
                       orient=method == "eq" and descriptor != "learned")

    def keypoint_indices(self, p: PreparedCloud) -> np.ndarray:
        """A fixed-seed subset of at most ``keypoints`` points: the same cloud always gets the same subset."""
        n = min(self.config.keypoints, int(np.ceil(self.config.keypoint_share * len(p))))
        if len(p) <= n:
            return np.arange(len(p))
        return np.sort(np.random.default_rng(0).choice(len(p), n, replace=False))

    def describe(self, p: PreparedCloud, keys: np.ndarray) -> np.ndarray:
        """Unit descriptors of the ``keys`` points, for the configured descriptor."""
        kind = self.config.descriptor
        if kind == "fpfh":
            return _unit(compute_fpfh(p, keys, self.config.fpfh_neighbours))
        learned = self._learned(p, keys)
        if kind == "learned":
            return learned
        w = self.config.fpfh_weight
        fpfh = _unit(compute_fpfh(p, keys, self.config.fpfh_neighbours))
        return np.concatenate([np.sqrt(1.0 - w) * learned, np.sqrt(w) * fpfh], axis=1)

    def _described(self, p: PreparedCloud, keys: np.ndarray) -> np.ndarray:
        """``describe``, remembered on the cloud for this registrar (its settings are fixed)."""
        if self._instance not in p.descriptors:
            p.descriptors[self._instance] = self.describe(p, keys)
        return p.descriptors[self._instance]

    @torch.no_grad()
    def _learned(self, p: PreparedCloud, keys: np.ndarray) -> np.ndarray:
        # One thread: the network is small and the stages after it need the cores (torch_threads).
        with torch_threads(1):
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
        num_inliers, matches = -1, None
        if method == "eq":
            candidates, num_inliers, matches = self._global_eq(src, tgt, timings)
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
        pose = self._refine(src, tgt, candidates, matches, timings, rate_ambiguity=method == "eq")
        if num_inliers < 0:
            num_inliers = int(round(pose.fitness * len(src)))
        converged = (num_inliers >= self.min_inliers and pose.fitness >= self.min_fitness
                     and pose.ambiguity <= self.max_ambiguity
                     and pose.off_surface <= self.max_plane_rmse_voxels * src.voxel)
        return RegistrationResult(pose.transform, pose.fitness, pose.rmse, num_inliers, converged, method, timings,
                                  src.voxel, pose.ambiguity, pose.off_surface)

    def _global_eq(self, src: PreparedCloud, tgt: PreparedCloud, timings: dict) -> tuple[list, int, Matches]:
        """Pose candidates (the best-supported first), the best one's inlier count and the matches."""
        t = time.perf_counter()
        k_src, k_tgt = self.keypoint_indices(src), self.keypoint_indices(tgt)
        d_src, d_tgt = self._described(src, k_src), self._described(tgt, k_tgt)
        timings["features"] = time.perf_counter() - t
        t = time.perf_counter()
        pairs, _ = match_descriptors(d_src, d_tgt, self.config.max_matches, self.config.top_k)
        timings["match"] = time.perf_counter() - t
        t = time.perf_counter()
        matches = Matches(src.points[k_src[pairs[:, 0]]], tgt.points[k_tgt[pairs[:, 1]]],
                          self.config.inlier_voxels * src.voxel)
        n_candidates = max(2, min(self.config.candidates, int(self.config.candidates_per_match * len(pairs))))
        fit = robust_rigid_fit(*matches, self.config.seeds, self.config.consensus, candidates=n_candidates)
        timings["estimate"] = time.perf_counter() - t
        return list(fit.candidates), len(fit.inliers), matches

    def _refine(self, src: PreparedCloud, tgt: PreparedCloud, candidates: list, matches: Matches | None,
                timings: dict, rate_ambiguity: bool) -> RefinedPose:
        """Choose among the candidate poses (``screening.choose_pose``) and refine the chosen
        one with full-resolution point-to-plane ICP."""
        t = time.perf_counter()
        distance = self.config.icp_voxels * src.voxel
        pose, ambiguity = np.asarray(candidates[0]), 0.0
        if len(candidates) > 1:
            pose, ambiguity = choose_pose(src, tgt, np.asarray(candidates), matches, distance, self.config.screening)
        if self.config.icp:
            T, fitness, rmse = icp_point_to_plane(src.pcd, tgt.pcd, pose, distance)
        else:
            T = pose
            fitness, rmse = evaluate_alignment(src.pcd, tgt.pcd, T, distance)
        off_surface = plane_rmse(src.points, tgt.index, tgt.normals, tgt.normal_ok, T, distance)
        timings["refine"] = time.perf_counter() - t
        return RefinedPose(T, fitness, rmse, ambiguity if rate_ambiguity else 0.0, off_surface)


class RefinedPose(NamedTuple):
    transform: np.ndarray
    fitness: float
    rmse: float
    ambiguity: float
    off_surface: float  # inlier RMS distance along the target normals, metres
