"""Clouds -> what every registration method starts from: voxel-downsampled points,
outliers removed, normals, FPFH, with the scale taken from the data.

FPFH depends on the sign of the normals, so when it is computed the normals are
oriented by a rule that moves with the cloud (away from the centroid of their
neighbourhood). The learned descriptor does not depend on normal signs and skips it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import open3d as o3d
from scipy.spatial import cKDTree

from eqrobot.geometry.kdtree import kd_query
from eqrobot.perception.registration.nearest import RadiusIndex

# Downsampling targets this many points when no voxel size is given: enough geometry
# for matching, few enough for a few hundred milliseconds per pair on a CPU.
TARGET_POINTS = 2500


# A normal is trusted when the surface is clearly flatter across it than along it:
# (l1 - l0) / l2 over the sorted covariance eigenvalues. Below this the normal of a
# point can swing under a tiny perturbation (a rotation's rounding errors included).
MIN_NORMAL_GAP = 0.05


@dataclass
class PreparedCloud:
    points: np.ndarray  # (N, 3) float64, downsampled
    normals: np.ndarray  # (N, 3) unit (oriented only when FPFH was computed, see module docstring)
    normal_ok: np.ndarray  # (N,) bool: the normal is well defined (see MIN_NORMAL_GAP)
    fpfh: np.ndarray | None  # (N, 33); None when not asked for
    voxel: float
    pcd: o3d.geometry.PointCloud  # the same points/normals for Open3D (ICP)
    # Descriptors already computed for this cloud, by the registrar that made them: a cloud
    # registered twice (a node's reference, odometry's previous scan) is described once.
    descriptors: dict = field(default_factory=dict, repr=False)
    _index: RadiusIndex | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.points)

    @property
    def index(self) -> RadiusIndex:
        """Fixed-radius nearest-point index of the points (pose screening, ICP checks), built on first use."""
        if self._index is None:
            self._index = RadiusIndex(self.points)
        return self._index


def cloud_diameter(points: np.ndarray) -> float:
    """Diagonal of the axis-aligned bounding box (robust to a few outliers via percentiles)."""
    lo, hi = np.percentile(points, [0.5, 99.5], axis=0)
    return float(np.linalg.norm(hi - lo))


def estimate_voxel_size(points: np.ndarray, target_points: int = TARGET_POINTS) -> float:
    """Voxel edge that leaves about ``target_points`` points on a surface-like cloud.

    A surface of area A sampled on a voxel grid of edge v keeps about A / v^2 points;
    the area is estimated from the cloud's own density: the mean spacing s of a random
    subsample of m points covers A ~ m s^2. The voxel is never below 1.5 times the
    cloud's own point spacing, so that normals and descriptors see enough neighbours.
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 10:
        raise ValueError(f"cloud has {len(points)} points, too few to estimate a voxel size")
    rng = np.random.default_rng(0)
    m = min(len(points), 4000)
    sub = points[rng.choice(len(points), m, replace=False)] if m < len(points) else points
    d, _ = kd_query(cKDTree(sub), sub, 2)
    spacing = float(np.median(d[:, 1]))
    area = m * spacing**2
    full_spacing = spacing * np.sqrt(m / len(points))
    voxel = max(np.sqrt(area / target_points), 1.5 * full_spacing)
    if not np.isfinite(voxel) or voxel <= 0:
        raise ValueError("cannot estimate a voxel size: the cloud is degenerate (all points coincide?)")
    return float(voxel)


def to_o3d(points: np.ndarray, normals: np.ndarray | None = None) -> o3d.geometry.PointCloud:
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64)))
    if normals is not None:
        pcd.normals = o3d.utility.Vector3dVector(np.asarray(normals, dtype=np.float64))
    return pcd


def estimate_normals(points: np.ndarray, radius: float, max_nn: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """PCA normals over the ``max_nn`` nearest points within ``radius`` and whether each is
    well defined. Only distances choose the neighbours, so a rotated cloud gets rotated
    normals (up to sign) wherever they are well defined. Open3D's parallel neighbour search
    builds the covariances; fewer than three neighbours leave a flat spectrum, never trusted."""
    pcd = to_o3d(points)
    pcd.estimate_covariances(o3d.geometry.KDTreeSearchParamHybrid(radius=radius, max_nn=max_nn))
    eigval, eigvec = np.linalg.eigh(np.asarray(pcd.covariances))
    gap = (eigval[:, 1] - eigval[:, 0]) / np.maximum(eigval[:, 2], 1e-30)
    return eigvec[:, :, 0], gap >= MIN_NORMAL_GAP


def orient_normals(points: np.ndarray, normals: np.ndarray, radius: float, k: int = 24) -> np.ndarray:
    """Flip each normal to point away from the centroid of its (up to ``k``) neighbours within ``radius``."""
    dist, idx = kd_query(cKDTree(points), points, min(k, len(points)), distance_upper_bound=radius)
    valid = np.isfinite(dist)[..., None]
    neighbours = points[np.where(np.isfinite(dist), idx, 0)]
    centroids = (neighbours * valid).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
    flip = np.einsum("ij,ij->i", normals, points - centroids) < 0
    out = normals.copy()
    out[flip] *= -1
    return out


def downsample(points: np.ndarray, voxel: float, remove_outliers: bool = True) -> np.ndarray:
    """Finite points, voxel-averaged, statistical outliers removed."""
    points = np.asarray(points, dtype=np.float64)
    points = points[np.isfinite(points).all(axis=1)]
    pcd = to_o3d(points).voxel_down_sample(voxel)
    if remove_outliers and len(pcd.points) > 50:
        pcd, _ = pcd.remove_statistical_outlier(nb_neighbors=16, std_ratio=3.0)
    return np.asarray(pcd.points).copy()


def prepare_points(points: np.ndarray, voxel: float, fpfh: bool = True, orient: bool = False) -> PreparedCloud:
    """Normals, their orientation (when ``fpfh`` or ``orient``) and (with ``fpfh``) FPFH of
    every point, for points that are already downsampled.

    Depends on the points only through distances and the normals' own rule, so a
    rotated copy of the same points gets rotated normals and identical FPFH.
    """
    n = len(points)
    if n < 20:
        raise ValueError(f"only {n} points left after {voxel:.4g} m voxel downsampling; need at least 20")
    extent = np.linalg.svd(points - points.mean(axis=0), compute_uv=False)
    if extent[1] < 1e-3 * extent[0]:
        raise ValueError("degenerate geometry: the points lie on a line")
    normals, normal_ok = estimate_normals(points, 2.5 * voxel)
    if fpfh or orient:
        normals = orient_normals(points, normals, 5.0 * voxel)
    cloud = PreparedCloud(points, normals, normal_ok, None, voxel, to_o3d(points, normals))
    if fpfh:
        cloud.fpfh = compute_fpfh(cloud)
    return cloud


def compute_fpfh(cloud: PreparedCloud, indices: np.ndarray | None = None, max_nn: int = 100) -> np.ndarray:
    """FPFH ``(M, 33)`` of the points ``indices`` (all by default) over ``max_nn`` neighbours
    within 5 voxels; the cloud's normals must be oriented (``prepare(..., orient=True)``)."""
    search = o3d.geometry.KDTreeSearchParamHybrid(radius=5.0 * cloud.voxel, max_nn=max_nn)
    registration = o3d.pipelines.registration
    feature = (registration.compute_fpfh_feature(cloud.pcd, search) if indices is None
               else registration.compute_fpfh_feature(cloud.pcd, search, np.asarray(indices).tolist()))
    return np.asarray(feature.data).T.copy()


def prepare(points: np.ndarray, voxel: float | None = None, remove_outliers: bool = True,
            fpfh: bool = True, orient: bool = False) -> PreparedCloud:
    """Downsample, drop statistical outliers, estimate and orient normals, compute FPFH."""
    voxel = float(voxel) if voxel else estimate_voxel_size(points)
    return prepare_points(downsample(points, voxel, remove_outliers), voxel, fpfh, orient)
