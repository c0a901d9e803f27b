"""The package as ROS 2 sees it: package.xml, setup.py/setup.cfg, launch files, params
files, executables, and a real colcon build in a temporary workspace."""

import ast
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MESSAGE_PACKAGES = {"rclpy", "std_msgs", "std_srvs", "sensor_msgs", "geometry_msgs", "nav_msgs",
                    "visualization_msgs", "diagnostic_msgs"}


def setup_nodes() -> list[str]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "NODES":
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no NODES list")


def installed_scripts() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group="console_scripts")
            if ep.dist is not None and ep.dist.name == "eqrobot"}


def test_package_xml():
    root = ET.parse(ROOT / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == "eqrobot"
    assert root.find("export/build_type").text == "ament_python"
    exec_deps = {e.text for e in root.findall("exec_depend")}
    assert exec_deps >= MESSAGE_PACKAGES
    assert {"python3-numpy", "python3-torch", "python3-open3d-pip"} <= exec_deps
    assert "python3-pytest" in {e.text for e in root.findall("test_depend")}


def test_setup_cfg_puts_executables_in_lib_eqrobot():
    text = (ROOT / "setup.cfg").read_text()
    assert "script_dir=$base/lib/eqrobot" in text and "install_scripts=$base/lib/eqrobot" in text
    assert (ROOT / "resource" / "eqrobot").exists()


def test_every_node_has_an_executable_a_params_file_and_a_launch_file():
    scripts = installed_scripts()
    assert scripts.get("eqrobot") == "eqrobot.cli.main:main"
    for node in setup_nodes():
        assert scripts.get(node) == f"eqrobot.ros.{node}:main", f"{node} is not an installed executable"
        short = node.removesuffix("_node")
        params = yaml.safe_load((ROOT / "config" / f"{short}.yaml").read_text())
        assert "ros__parameters" in params[node]
        assert (ROOT / "launch" / f"{short}.launch.py").exists()


def launch_calls(path: Path):
    """Node(...)/LifecycleNode(...) calls in a launch file, as dicts of their constant keywords."""
    tree = ast.parse(path.read_text(), filename=str(path))
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("Node", "LifecycleNode"):
            kw = {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
            calls.append(kw)
    yamls = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and str(n.value).endswith(".yaml")]
    has_generate = any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
                       for n in tree.body)
    return calls, yamls, has_generate


@pytest.mark.parametrize("launch_file", sorted((ROOT / "launch").glob("*.launch.py")), ids=lambda p: p.name)
def test_launch_file_names_an_installed_executable_and_an_existing_params_file(launch_file):
    calls, yamls, has_generate = launch_calls(launch_file)
    assert has_generate, "no generate_launch_description()"
    assert calls, "launches no node"
    scripts = installed_scripts()
    for call in calls:
        assert call.get("package") == "eqrobot"
        assert call.get("executable") in scripts, f"{call.get('executable')} is not an installed executable"
    assert yamls, "names no params file"
    for name in yamls:
        params = yaml.safe_load((ROOT / "config" / name).read_text())
        assert {c["name"] for c in calls} <= set(params), f"{name} has no section for the launched node"


@pytest.mark.slow
def test_colcon_build_in_a_temporary_workspace(tmp_path):
    colcon = Path(sys.executable).parent / "colcon"
    if not colcon.exists():
        colcon = shutil.which("colcon")
    assert colcon, "colcon-common-extensions is a test dependency"
    src = tmp_path / "src" / "eqrobot"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, src / f)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    result = subprocess.run([str(colcon), "build", "--base-paths", "src"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr

    prefix = tmp_path / "install" / "eqrobot"
    share = prefix / "share" / "eqrobot"
    for exe in ["eqrobot", *setup_nodes()]:
        assert (prefix / "lib" / "eqrobot" / exe).is_file(), f"lib/eqrobot/{exe} missing"
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / "eqrobot").exists()
    assert (share / "package.xml").exists()
    for f in list((ROOT / "launch").glob("*.launch.py")) + list((ROOT / "config").glob("*.yaml")):
        assert (share / f.parent.name / f.name).exists(), f"{f.name} not installed"

    site = next(prefix.glob("lib/python3*/site-packages"))
    run = subprocess.run([sys.executable, str(prefix / "lib" / "eqrobot" / "eqrobot"), "--version"],
                         env=dict(env, PYTHONPATH=str(site)), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "eqrobot" in run.stdout, run.stderr


@pytest.mark.parametrize("weights", sorted((ROOT / "models").rglob("*.safetensors")), ids=lambda p: p.name)
def test_shipped_weights_are_small_carded_and_load_without_unpickling(weights):
    from eqrobot.io.checkpoint import load_checkpoint

    assert weights.stat().st_size < 20 * 2**20, "shipped weights must stay under 20 MB"
    assert (weights.parent / "MODEL_CARD.md").is_file(), f"{weights.parent} needs a MODEL_CARD.md"
    tensors, _ = load_checkpoint(weights)
    assert tensors


def declared_arguments(path: Path) -> dict:
    """DeclareLaunchArgument(name, default_value=...) calls in a launch file: {name: default}."""
    tree = ast.parse(path.read_text(), filename=str(path))
    calls = [n for n in ast.walk(tree)
             if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "DeclareLaunchArgument"]
    defaults = [next((k.value for k in call.keywords if k.arg == "default_value"), None) for call in calls]
    return {call.args[0].value: getattr(default, "value", None) for call, default in zip(calls, defaults, strict=True)}


@pytest.mark.parametrize("launch_file", sorted((ROOT / "launch").glob("*.launch.py")), ids=lambda p: p.name)
def test_a_launch_argument_for_a_parameter_leaves_the_params_file_alone_unless_given(launch_file):
    # A default passed after the params file would win over it: editing the YAML would change nothing.
    node = launch_calls(launch_file)[0][0]["name"]
    params = yaml.safe_load((ROOT / "config" / f"{launch_file.name.removesuffix('.launch.py')}.yaml").read_text())
    parameter_arguments = declared_arguments(launch_file).keys() & params[node]["ros__parameters"].keys()
    assert parameter_arguments, "no parameter argument: nothing to check"
    assert all(declared_arguments(launch_file)[name] == "" for name in parameter_arguments)


def test_only_the_launch_arguments_given_override_parameters_typed_as_yaml():
    from eqrobot.ros.launch_overrides import given_parameters

    arguments = {"params_file": "/p.yaml", "device": "", "ckpt": "/w.safetensors", "predict_on_every_frame": "true",
                 "input": "heightmap", "color": "/camera/color"}
    names = ("device", "ckpt", "predict_on_every_frame", "input", "workspace_frame")
    assert given_parameters(arguments, names) == {"ckpt": "/w.safetensors", "predict_on_every_frame": True,
                                                  "input": "heightmap"}
