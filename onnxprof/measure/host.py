"""Facts about the machine a measurement ran on: CPU, memory, GPU, versions, Jetson state."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path

from onnxprof.measure.records import HostInfo


def host_info() -> HostInfo:
    import psutil

    versions = {name: _version(name) for name in ("onnx", "onnxruntime", "tensorrt", "numpy")}
    gpu, driver = _nvml_gpu()
    return HostInfo(hostname=socket.gethostname(), os=f"{platform.system()} {platform.release()}",
                    cpu=_cpu_name(), cpu_count=os.cpu_count() or 1, memory_bytes=psutil.virtual_memory().total,
                    python=platform.python_version(), versions={k: v for k, v in versions.items() if v},
                    gpu=gpu, gpu_driver=driver, jetson=jetson_state())


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    for dist in (module, f"{module}-gpu"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return ""


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nvml_gpu() -> tuple[str, str]:
    try:
        import pynvml

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        name = pynvml.nvmlDeviceGetName(handle)
        driver = pynvml.nvmlSystemGetDriverVersion()
        return (name.decode() if isinstance(name, bytes) else name), (driver.decode() if isinstance(driver, bytes) else driver)
    except Exception:  # no NVML, no driver, no GPU: nothing to report
        return "", ""


def jetson_state(root: Path = Path("/")) -> dict[str, str]:
    """L4T release, power mode and clock state of a Jetson board; empty elsewhere."""
    release = root / "etc" / "nv_tegra_release"
    if not release.is_file():
        return {}
    state = {"l4t": release.read_text().splitlines()[0].strip()}
    mode = root / "etc" / "nvpmodel.conf"
    status = root / "var" / "lib" / "nvpmodel" / "status"
    if status.is_file():
        state["nvpmodel"] = status.read_text().strip()
    elif mode.is_file():
        state["nvpmodel"] = "see /etc/nvpmodel.conf"
    gpu_freq = root / "sys" / "devices" / "gpu.0" / "devfreq"
    if gpu_freq.is_dir():
        state["gpu_governor"] = next((p.joinpath("governor").read_text().strip() for p in gpu_freq.iterdir()
                                      if p.joinpath("governor").is_file()), "")
    return state
