"""Base class of every eqrobot inference node.

A node subclass declares its parameters as data (``PARAMS``), loads its model in
``setup`` (called on *configure*, which also warms up), creates its publishers and
subscriptions in ``create_interfaces`` and handles messages in plain methods that
take a message and publish results. The base gives every node the same behaviour:

* parameters declared with descriptors (description, ranges, choices, read-only),
  loadable with ``--ros-args --params-file config/<node>.yaml``;
* ``device``: ``auto`` | ``cpu`` | ``cuda`` (``auto`` falls back to CPU with one log line);
* lifecycle: with ``autostart`` (default) the node configures and activates itself;
  otherwise it waits for ``<node>/change_state`` transitions. Messages that arrive
  while inactive are counted and dropped;
* sensor-data QoS for inputs (best effort, keep last ``queue_depth`` = 1, so the
  newest message is the one processed);
* a handler that raises ``ValueError`` (including :class:`MessageError` and
  :class:`InputRejected`) has its message rejected with a throttled warning; any
  other exception is logged with its traceback; the node keeps running either way;
* ``/diagnostics`` at ``diagnostics_period`` (1 Hz): state, device, processed /
  rejected / errors, latency p50 / p95.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from eqrobot.device import DEVICE_CHOICES, resolve_device
from eqrobot.ros.convert.header import copy_header
from eqrobot.ros.diagnostics import NodeStats, diagnostic_array


class InputRejected(ValueError):
    """Raised by a handler for an input it cannot use. Counted and warned about; not fatal."""


@dataclass(frozen=True)
class Param:
    """A node parameter: name, default (its type is the parameter's type) and constraints."""

    name: str
    default: Any
    description: str
    min: float | None = None
    max: float | None = None
    choices: tuple = ()
    read_only: bool = False

    def descriptor(self) -> ParameterDescriptor:
        d = ParameterDescriptor(name=self.name, description=self.description, read_only=self.read_only)
        if self.min is not None and self.max is not None:
            if isinstance(self.default, bool):
                pass
            elif isinstance(self.default, int):
                d.integer_range = [IntegerRange(from_value=int(self.min), to_value=int(self.max), step=0)]
            elif isinstance(self.default, float):
                d.floating_point_range = [
                    FloatingPointRange(from_value=float(self.min), to_value=float(self.max), step=0.0)]
        if self.choices:
            d.additional_constraints = f"one of {list(self.choices)}"
        return d


COMMON_PARAMS = (
    Param("device", "auto", "compute device: auto (CUDA when present, else CPU), cpu or cuda",
          choices=DEVICE_CHOICES, read_only=True),
    Param("autostart", True, "configure and activate at start-up; false waits for lifecycle transitions",
          read_only=True),
    Param("queue_depth", 1, "input queue depth; 1 keeps only the newest message", min=1, max=100, read_only=True),
    Param("input_reliability", "best_effort", "QoS reliability of inputs: best_effort (sensor data) or reliable",
          choices=("best_effort", "reliable"), read_only=True),
    Param("diagnostics_period", 1.0, "seconds between /diagnostics messages", min=0.05, max=60.0, read_only=True),
    Param("warn_throttle", 5.0, "minimum seconds between repeated warnings about rejected input", min=0.0, max=3600.0),
)

class InferenceNode(LifecycleNode):
    """Subclass and set ``NAME`` and ``PARAMS``; override ``setup``, ``create_interfaces``,
    and optionally ``warm_up`` and ``teardown``."""

    NAME = "eqrobot_node"
    PARAMS: tuple[Param, ...] = ()

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name or self.NAME, **kwargs)
        self._params = {p.name: p for p in COMMON_PARAMS + self.PARAMS}
        for p in self._params.values():
            self.declare_parameter(p.name, p.default, p.descriptor())
        for name in self._params:
            problem = self._parameter_problem(name, self.param(name))
            if problem:
                raise ValueError(problem)
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self.stats = NodeStats()
        self.device = "none"
        self.failure = ""
        self._active = False
        self._state = "unconfigured"
        self._subscriptions_made: list = []
        self._publishers_made: list = []
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self.create_timer(self.param("diagnostics_period"), self.publish_diagnostics)
        if self.param("autostart"):
            self.trigger_configure()
            if self._state == "inactive":
                self.trigger_activate()

    # --- what subclasses implement -------------------------------------------------

    def setup(self) -> None:
        """Load weights and build models on ``self.device``. Raise to fail configuration."""

    def warm_up(self) -> None:
        """Run once on dummy input so the first real message is not slow."""

    def create_interfaces(self) -> None:
        """Create publishers (``self.publisher``) and subscriptions (``self.subscribe``)."""

    def teardown(self) -> None:
        """Release what ``setup`` acquired."""

    # --- helpers for subclasses ----------------------------------------------------

    def param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def input_qos(self) -> QoSProfile:
        reliability = (ReliabilityPolicy.BEST_EFFORT if self.param("input_reliability") == "best_effort"
                       else ReliabilityPolicy.RELIABLE)
        return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self.param("queue_depth"),
                          reliability=reliability, durability=DurabilityPolicy.VOLATILE)

    def subscribe(self, msg_type, topic: str, handler: Callable[[Any], None], qos: QoSProfile | None = None):
        """Subscription whose handler runs only while active, is timed, and never kills the node."""
        sub = self.create_subscription(msg_type, topic, lambda msg: self.run_guarded(handler, msg),
                                       qos or self.input_qos())
        self._subscriptions_made.append(sub)
        return sub

    def publisher(self, msg_type, topic: str, qos: QoSProfile | int = 10):
        """Lifecycle publisher: publishes only while the node is active."""
        pub = self.create_lifecycle_publisher(msg_type, topic, qos)
        self._publishers_made.append(pub)
        return pub

    @staticmethod
    def output_header(input_header):
        """Outputs carry the stamp and frame of the input they were computed from."""
        return copy_header(input_header)

    def run_guarded(self, handler: Callable[[Any], None], msg) -> None:
        if not self._active:
            self.stats.ignored_inactive += 1
            return
        start = time.perf_counter()
        try:
            handler(msg)
        except ValueError as e:
            reason = f"{type(msg).__name__} rejected: {e}"
            self.stats.record_rejection(reason)
            self.get_logger().warning(reason, throttle_duration_sec=self.param("warn_throttle"))
        except Exception as e:  # noqa: BLE001 - a node must survive any single message
            reason = f"processing {type(msg).__name__} failed: {type(e).__name__}: {e}"
            self.stats.record_error(reason)
            self.get_logger().error(f"{reason}\n{traceback.format_exc()}",
                                    throttle_duration_sec=self.param("warn_throttle"))
        else:
            self.stats.record_success(time.perf_counter() - start)

    def answer_trigger(self, request, response, work: Callable[[], str]):
        """Fill a std_srvs/Trigger ``response`` by running ``work`` with the treatment every
        input gets (inactive, timing, rejection counting and warning): success with the text
        ``work`` returns, or failure with the reason it was refused."""
        processed = self.stats.processed
        message = []
        self.run_guarded(lambda _request: message.append(work()), request)
        response.success = self.stats.processed > processed
        if response.success:
            response.message = message[0]
        else:
            response.message = self.stats.last_problem if self._active else f"node is {self._state}, not active"
        return response

    def publish_diagnostics(self) -> None:
        msg = diagnostic_array(
            name=f"{self.get_fully_qualified_name()}: {self.NAME}", hardware_id=self.device,
            state=self._state, stats=self.stats, failure=self.failure,
            stamp=self.get_clock().now().to_msg(),
        )
        self._diag_pub.publish(msg)

    # --- lifecycle -----------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            choice = resolve_device(self.param("device"))
            if choice.note:
                self.get_logger().info(choice.note)
            self.device = choice.device
            self.setup()
            self.warm_up()
            self.create_interfaces()
        except Exception as e:  # noqa: BLE001 - report, stay alive, allow a retry
            self.failure = f"configure failed: {type(e).__name__}: {e}"
            self.get_logger().error(self.failure)
            self._destroy_interfaces()
            self._state = "unconfigured"
            return TransitionCallbackReturn.FAILURE
        self.failure = ""
        self._state = "inactive"
        self.get_logger().info(f"configured on device '{self.device}'")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        self._active = True
        self._state = "active"
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._state = "inactive"
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._destroy_interfaces()
        self.teardown()
        self._state = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._state = "finalized"
        return TransitionCallbackReturn.SUCCESS

    def _destroy_interfaces(self) -> None:
        for sub in self._subscriptions_made:
            self.destroy_subscription(sub)
        for pub in self._publishers_made:
            self.destroy_lifecycle_publisher(pub)
        self._subscriptions_made.clear()
        self._publishers_made.clear()

    # --- parameters ----------------------------------------------------------------

    def _parameter_problem(self, name: str, value) -> str:
        spec = self._params.get(name)
        if spec is None:
            return ""
        if spec.choices and str(value).split(":", 1)[0] not in spec.choices:
            return f"parameter '{name}' must be one of {list(spec.choices)}, got '{value}'"
        if isinstance(value, float) and not math.isfinite(value):
            return f"parameter '{name}' must be finite, got {value}"
        return ""

    def _on_set_parameters(self, params) -> SetParametersResult:
        for p in params:
            problem = self._parameter_problem(p.name, p.value)
            if problem:
                return SetParametersResult(successful=False, reason=problem)
        return SetParametersResult(successful=True)


def run_node(node_cls: type[InferenceNode], args: list[str] | None = None) -> int:
    """Entry point of ``python -m eqrobot.ros.<node>`` and the installed executables."""
    rclpy.init(args=sys.argv if args is None else args)
    node = None
    try:
        node = node_cls()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, ParameterException) as e:
        # A bad parameter file: say which parameter and why, exit non-zero.
        print(f"{node_cls.NAME}: {e}", file=sys.stderr)
        return 2
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
