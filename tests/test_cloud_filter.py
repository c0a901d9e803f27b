"""Point-cloud clean-up in torch: voxel averaging, range gate, crop, rejection."""

import numpy as np
import pytest

from eqrobot.geometry.cloud_filter import CloudFilterConfig, filter_cloud, voxel_downsample
from eqrobot.geometry.types import PointCloud


def test_voxel_average_of_two_clusters():
    a = np.array([[0.01, 0.01, 0.01], [0.03, 0.03, 0.03]])
    b = np.array([[1.01, 1.01, 1.01], [1.05, 1.05, 1.05], [1.03, 1.03, 1.03]])
    cloud = PointCloud(np.r_[a, b], colors=np.array([[0, 0, 0], [10, 20, 30], [100] * 3, [200] * 3, [0] * 3]),
                       intensity=np.array([1, 3, 2, 4, 6], dtype=np.float32),
                       normals=np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0], [1.0, 0, 0], [1.0, 0, 0]]))
    out = voxel_downsample(cloud, 0.5)
    order = np.argsort(out.points[:, 0])
    np.testing.assert_allclose(out.points[order], [a.mean(0), b.mean(0)])
    np.testing.assert_array_equal(out.colors[order], [[5, 10, 15], [100, 100, 100]])
    np.testing.assert_allclose(out.intensity[order], [2, 4])
    np.testing.assert_allclose(np.linalg.norm(out.normals, axis=1), 1.0)


def test_voxel_result_does_not_depend_on_point_order():
    pts = np.random.default_rng(0).uniform(-1, 1, (5000, 3))
    perm = np.random.default_rng(1).permutation(5000)
    a = voxel_downsample(PointCloud(pts), 0.2).points
    b = voxel_downsample(PointCloud(pts[perm]), 0.2).points
    np.testing.assert_allclose(a[np.lexsort(a.T)], b[np.lexsort(b.T)], atol=1e-12)
    assert len(a) <= 11**3


def test_range_crop_and_nan_removal():
    pts = np.array([[0.1, 0, 0], [1.0, 0, 0], [5.0, 0, 0], [np.nan, 0, 0], [0, 0.5, 0.5]])
    cfg = CloudFilterConfig(min_range=0.5, max_range=2.0, min_points=1)
    np.testing.assert_allclose(filter_cloud(PointCloud(pts), cfg).points, [[1.0, 0, 0], [0, 0.5, 0.5]])
    cfg = CloudFilterConfig(crop_enabled=True, crop_min=(-1, -1, -1), crop_max=(0.5, 1, 1), min_points=1)
    np.testing.assert_allclose(filter_cloud(PointCloud(pts), cfg).points, [[0.1, 0, 0], [0, 0.5, 0.5]])


def test_too_few_points_is_a_clear_error():
    with pytest.raises(ValueError, match="need at least 10"):
        filter_cloud(PointCloud(np.full((20, 3), np.nan)), CloudFilterConfig())


@pytest.mark.parametrize("kwargs", [dict(voxel_size=-1), dict(min_range=2, max_range=1),
                                    dict(crop_enabled=True, crop_min=(0, 0, 0), crop_max=(1, 0, 1))])
def test_invalid_configs(kwargs):
    with pytest.raises(ValueError):
        CloudFilterConfig(**kwargs)
