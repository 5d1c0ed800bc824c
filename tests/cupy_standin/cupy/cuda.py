"""The stand-in's device: a count of GPUs and a stream whose synchronisations are counted.

MINILOTTERY_CUPY_STANDIN_DEVICES sets the count (default 1); 0 behaves as CuPy
does on a machine without a GPU (the device query raises), so the errors for
"CuPy without a GPU" stay testable.
"""

from __future__ import annotations

import os
import types

from . import _log


class CUDARuntimeError(RuntimeError):
    """CuPy's error for a failed CUDA runtime call."""


def _device_count() -> int:
    count = int(os.environ.get("MINILOTTERY_CUPY_STANDIN_DEVICES", "1"))
    if count == 0:
        raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
    return count


def _device_synchronize() -> None:
    _log.record("synchronize")


runtime = types.SimpleNamespace(getDeviceCount=_device_count,
                                deviceSynchronize=_device_synchronize,
                                CUDARuntimeError=CUDARuntimeError)


class Stream:
    def synchronize(self) -> None:
        _log.record("synchronize")


class Device:
    def __init__(self, device=0):
        self.id = device

    def synchronize(self) -> None:
        _log.record("synchronize")


_stream = Stream()


def get_current_stream() -> Stream:
    return _stream
