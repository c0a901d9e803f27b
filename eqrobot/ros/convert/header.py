"""Headers and time stamps."""

from __future__ import annotations

import array

import numpy as np
from builtin_interfaces.msg import Time
from std_msgs.msg import Header


def stamp_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def make_header(frame_id: str = "", stamp_ns: int | None = None, stamp: Time | None = None) -> Header:
    """Header with a frame and a stamp (given as ``Time`` or nanoseconds; zero when neither)."""
    if stamp is None:
        stamp = ns_to_stamp(stamp_ns or 0)
    return Header(frame_id=frame_id, stamp=stamp)


def copy_header(header: Header) -> Header:
    """A new header with the same stamp and frame: outputs carry their input's time and frame."""
    return Header(frame_id=header.frame_id, stamp=Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec))


def byte_array(data: np.ndarray) -> array.array:
    """``uint8[]`` message field from a numpy array, with one memcpy (the generated
    setter checks every byte one by one when given anything but ``array.array('B')``)."""
    out = array.array("B")
    out.frombytes(np.ascontiguousarray(data).tobytes())
    return out
