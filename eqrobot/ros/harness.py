"""Run nodes as subprocesses and talk to them over DDS from Python: used by the tests,
``eqrobot demo`` and the benchmarks (no launch system needed)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile


def isolated_ros_env(domain_id: int | None = None, base: dict | None = None) -> dict:
    """Environment for a private ROS graph on this machine: its own domain id, discovery
    limited to localhost, Fast DDS."""
    env = dict(os.environ if base is None else base)
    env["ROS_DOMAIN_ID"] = str(domain_id if domain_id is not None else random.randint(1, 100))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _param_arg(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_param_arg(v) for v in value) + "]"
    return str(value)


class NodeProcess:
    """``python -m <module> --ros-args [--params-file F] [-p k:=v ...]`` with its output in a file."""

    def __init__(self, module: str, params_file: str | Path | None = None,
                 overrides: dict | None = None, env: dict | None = None) -> None:
        self.cmd = [sys.executable, "-m", module, "--ros-args"]
        if params_file:
            self.cmd += ["--params-file", str(params_file)]
        for k, v in (overrides or {}).items():
            self.cmd += ["-p", f"{k}:={_param_arg(v)}"]
        self.env = env or isolated_ros_env()
        self._log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115 - lives with the process
        self.proc: subprocess.Popen | None = None
        self._final_output = ""

    def __enter__(self) -> NodeProcess:
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        """Everything the node printed so far (kept after ``stop``)."""
        if self._log.closed:
            return self._final_output
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._log.closed:
            self._final_output = self.output()
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
        return self.proc.returncode


class RosClient:
    """A plain rclpy node in its own Context, with helpers to publish, collect and wait."""

    def __init__(self, name: str = "eqrobot_client") -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def __enter__(self) -> RosClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)

    def publisher(self, msg_type, topic: str, qos: QoSProfile | int = 10):
        return self.node.create_publisher(msg_type, topic, qos)

    def collect(self, msg_type, topic: str, qos: QoSProfile | int = 10) -> list:
        """A list that fills with every message received on ``topic``."""
        received: list = []
        self.node.create_subscription(msg_type, topic, received.append, qos)
        return received

    def spin_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return condition()

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)

    def publish_until(self, publisher, msg, condition: Callable[[], bool], timeout: float = 20.0,
                      period: float = 0.25) -> bool:
        """Publish ``msg`` every ``period`` s until ``condition()`` holds, as a sensor stream
        would: the first message after discovery can be missed while the subscriber's side
        of the match completes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            publisher.publish(msg)
            if self.spin_until(condition, min(period, max(deadline - time.monotonic(), 0))):
                return True
        return condition()

    def wait_for_subscribers(self, publisher, count: int = 1, timeout: float = 20.0) -> bool:
        """Discovery takes a moment: wait until the publisher sees its subscriber(s)."""
        return self.spin_until(lambda: publisher.get_subscription_count() >= count, timeout)
