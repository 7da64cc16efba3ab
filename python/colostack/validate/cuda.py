"""HBM copy bandwidth and a compute check through the CUDA driver API (ctypes on libcuda.so.1).

libcuda ships with every driver, so hosts need no PyTorch or CuPy. The kernels are embedded PTX
targeting sm_70; the driver JIT-compiles them for the GPU at hand (sm_90 on Hopper).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

PTX = r"""
.version 7.0
.target sm_70
.address_size 64

// dst[i] = src[i] for 16-byte elements, grid-stride loop over n elements.
.visible .entry copy_v4(
    .param .u64 p_dst,
    .param .u64 p_src,
    .param .u64 p_n
)
{
    .reg .pred %p<2>;
    .reg .b32 %r<9>;
    .reg .b64 %rd<10>;

    ld.param.u64 %rd1, [p_dst];
    ld.param.u64 %rd2, [p_src];
    ld.param.u64 %rd3, [p_n];
    cvta.to.global.u64 %rd1, %rd1;
    cvta.to.global.u64 %rd2, %rd2;
    mov.u32 %r1, %ctaid.x;
    mov.u32 %r2, %ntid.x;
    mov.u32 %r3, %tid.x;
    mov.u32 %r4, %nctaid.x;
    mul.wide.u32 %rd4, %r1, %r2;
    cvt.u64.u32 %rd5, %r3;
    add.u64 %rd4, %rd4, %rd5;
    mul.wide.u32 %rd6, %r4, %r2;
COPY_LOOP:
    setp.ge.u64 %p1, %rd4, %rd3;
    @%p1 bra COPY_DONE;
    shl.b64 %rd7, %rd4, 4;
    add.u64 %rd8, %rd2, %rd7;
    ld.global.v4.u32 {%r5, %r6, %r7, %r8}, [%rd8];
    add.u64 %rd9, %rd1, %rd7;
    st.global.v4.u32 [%rd9], {%r5, %r6, %r7, %r8};
    add.u64 %rd4, %rd4, %rd6;
    bra.uni COPY_LOOP;
COPY_DONE:
    ret;
}

// out[i] = fma(float(i), 2.0, 1.0) = 2i + 1, exact in fp32 for i < 2^23.
.visible .entry fma_check(
    .param .u64 p_out,
    .param .u32 p_n
)
{
    .reg .pred %p<2>;
    .reg .b32 %r<6>;
    .reg .f32 %f<3>;
    .reg .b64 %rd<4>;

    ld.param.u64 %rd1, [p_out];
    ld.param.u32 %r1, [p_n];
    cvta.to.global.u64 %rd1, %rd1;
    mov.u32 %r2, %ctaid.x;
    mov.u32 %r3, %ntid.x;
    mov.u32 %r4, %tid.x;
    mad.lo.u32 %r5, %r2, %r3, %r4;
    setp.ge.u32 %p1, %r5, %r1;
    @%p1 bra FMA_DONE;
    cvt.rn.f32.u32 %f1, %r5;
    fma.rn.f32 %f2, %f1, 0f40000000, 0f3F800000;
    mul.wide.u32 %rd2, %r5, 4;
    add.u64 %rd3, %rd1, %rd2;
    st.global.f32 [%rd3], %f2;
FMA_DONE:
    ret;
}
"""

COPY_BYTES = 1 << 30  # per buffer; large enough that launch overhead is noise
LAUNCHES_PER_SAMPLE = 20
COMPUTE_ELEMENTS = 1 << 16
THREADS = 256
_SM_COUNT_ATTRIBUTE = 16  # CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT


class CudaError(RuntimeError):
    pass


@dataclass
class DeviceTestResult:
    bandwidth_gbps: list[float] = field(default_factory=list)  # bytes read + written per second
    compute_elements: int = 0
    compute_mismatches: int = 0


def copy_gbps(buffer_bytes: int, launches: int, elapsed_ms: float) -> float:
    """A copy reads and writes every byte, so it moves 2 x buffer bytes per launch."""
    return 2 * buffer_bytes * launches / (elapsed_ms / 1e3) / 1e9


def expected_fma(i: int) -> float:
    return 2.0 * i + 1.0


class _Driver:
    def __init__(self) -> None:
        try:
            self.lib = ctypes.CDLL("libcuda.so.1")
        except OSError as exc:
            raise CudaError(f"libcuda.so.1 not loadable: {exc}") from exc

    def __call__(self, name: str, *args: object) -> None:
        rc = getattr(self.lib, name)(*args)
        if rc != 0:
            text = ctypes.c_char_p()
            self.lib.cuGetErrorName(rc, ctypes.byref(text))
            raise CudaError(f"{name} failed: {(text.value or b'?').decode()} ({rc})")


def _params(*values: ctypes._SimpleCData) -> ctypes.Array[ctypes.c_void_p]:  # type: ignore[type-arg]
    return (ctypes.c_void_p * len(values))(*[ctypes.addressof(v) for v in values])


def run_device_tests(bus_id: str, reps: int, sample: Callable[[], None]) -> DeviceTestResult:
    """Time `reps` samples of kernel copies with CUDA events (calling `sample` meanwhile from a
    second thread, to read NVML under load), then run and verify the FMA kernel."""
    cu = _Driver()
    cu("cuInit", ctypes.c_uint(0))
    dev = ctypes.c_int()
    cu("cuDeviceGetByPCIBusId", ctypes.byref(dev), bus_id.encode())
    ctx = ctypes.c_void_p()
    cu("cuDevicePrimaryCtxRetain", ctypes.byref(ctx), dev)
    try:
        cu("cuCtxSetCurrent", ctx)
        return _run(cu, dev, reps, sample)
    finally:
        cu("cuDevicePrimaryCtxRelease_v2", dev)


def _run(cu: _Driver, dev: ctypes.c_int, reps: int, sample: Callable[[], None]) -> DeviceTestResult:
    sms = ctypes.c_int()
    cu("cuDeviceGetAttribute", ctypes.byref(sms), ctypes.c_int(_SM_COUNT_ATTRIBUTE), dev)
    module = ctypes.c_void_p()
    cu("cuModuleLoadData", ctypes.byref(module), ctypes.c_char_p(PTX.encode()))
    copy_fn, fma_fn = ctypes.c_void_p(), ctypes.c_void_p()
    cu("cuModuleGetFunction", ctypes.byref(copy_fn), module, b"copy_v4")
    cu("cuModuleGetFunction", ctypes.byref(fma_fn), module, b"fma_check")
    src, dst = ctypes.c_uint64(), ctypes.c_uint64()
    start, stop = ctypes.c_void_p(), ctypes.c_void_p()
    result = DeviceTestResult()
    try:
        cu("cuMemAlloc_v2", ctypes.byref(src), ctypes.c_size_t(COPY_BYTES))
        cu("cuMemAlloc_v2", ctypes.byref(dst), ctypes.c_size_t(COPY_BYTES))
        cu("cuMemsetD8_v2", src, ctypes.c_ubyte(0x5A), ctypes.c_size_t(COPY_BYTES))
        cu("cuEventCreate", ctypes.byref(start), ctypes.c_uint(0))
        cu("cuEventCreate", ctypes.byref(stop), ctypes.c_uint(0))
        n = ctypes.c_uint64(COPY_BYTES // 16)
        copy_args = _params(dst, src, n)
        grid = ctypes.c_uint(sms.value * 8)

        def launch_copy() -> None:
            cu("cuLaunchKernel", copy_fn, grid, ctypes.c_uint(1), ctypes.c_uint(1),
               ctypes.c_uint(THREADS), ctypes.c_uint(1), ctypes.c_uint(1), ctypes.c_uint(0),
               None, copy_args, None)

        launch_copy()  # warm-up: JIT, clocks up, link out of its idle generation
        cu("cuCtxSynchronize")
        done = threading.Event()
        sampler = threading.Thread(target=_sample_until, args=(done, sample), daemon=True)
        sampler.start()
        try:
            for _ in range(reps):
                cu("cuEventRecord", start, None)
                for _ in range(LAUNCHES_PER_SAMPLE):
                    launch_copy()
                cu("cuEventRecord", stop, None)
                cu("cuEventSynchronize", stop)
                ms = ctypes.c_float()
                cu("cuEventElapsedTime", ctypes.byref(ms), start, stop)
                result.bandwidth_gbps.append(
                    round(copy_gbps(COPY_BYTES, LAUNCHES_PER_SAMPLE, ms.value), 1))
        finally:
            done.set()
            sampler.join()
        result.compute_elements, result.compute_mismatches = _fma(cu, fma_fn, dst)
    finally:
        for ev in (start, stop):
            if ev.value:
                cu("cuEventDestroy_v2", ev)
        for ptr in (src, dst):
            if ptr.value:
                cu("cuMemFree_v2", ptr)
        cu("cuModuleUnload", module)
    return result


def _fma(cu: _Driver, fma_fn: ctypes.c_void_p, out: ctypes.c_uint64) -> tuple[int, int]:
    n = ctypes.c_uint32(COMPUTE_ELEMENTS)
    cu("cuMemsetD8_v2", out, ctypes.c_ubyte(0), ctypes.c_size_t(COMPUTE_ELEMENTS * 4))
    blocks = (COMPUTE_ELEMENTS + THREADS - 1) // THREADS
    cu("cuLaunchKernel", fma_fn, ctypes.c_uint(blocks), ctypes.c_uint(1), ctypes.c_uint(1),
       ctypes.c_uint(THREADS), ctypes.c_uint(1), ctypes.c_uint(1), ctypes.c_uint(0),
       None, _params(out, n), None)
    host = (ctypes.c_float * COMPUTE_ELEMENTS)()
    cu("cuMemcpyDtoH_v2", host, out, ctypes.c_size_t(COMPUTE_ELEMENTS * 4))
    wrong = sum(1 for i, v in enumerate(host) if v != expected_fma(i))
    return COMPUTE_ELEMENTS, wrong


def _sample_until(done: threading.Event, sample: Callable[[], None]) -> None:
    while not done.wait(0.005):
        sample()
