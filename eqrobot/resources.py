"""Find the package's data files (config/, launch/, models/, sim/) wherever eqrobot is
installed: a source checkout (pip -e), a pip install (data under ``<prefix>/share/eqrobot``)
or a colcon workspace (the ament index)."""

from __future__ import annotations

import sys
from pathlib import Path


def share_dirs() -> list[Path]:
    dirs = [Path(__file__).resolve().parent.parent, Path(sys.prefix) / "share" / "eqrobot"]
    try:
        from ament_index_python.packages import get_package_share_directory

        dirs.append(Path(get_package_share_directory("eqrobot")))
    except (ImportError, LookupError, OSError):
        pass  # not in a sourced ROS 2 workspace: the first two places are enough
    return dirs


def share_file(relative: str) -> Path:
    """Path of ``relative`` (e.g. ``config/cloud_filter.yaml``) in the first share dir holding it."""
    for d in share_dirs():
        candidate = d / relative
        if candidate.exists():
            return candidate
    searched = ", ".join(str(d) for d in share_dirs())
    raise FileNotFoundError(f"{relative}: not found in {searched}")
