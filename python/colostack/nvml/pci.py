"""PCI bus ids as NVML, the kernel log and CUDA write them."""

from __future__ import annotations

BusKey = tuple[int, int, int]


def bus_key(bus_id: str) -> BusKey:
    """'00000000:18:00.0' (NVML) or '0000:18:00' (kernel) to (domain, bus, device)."""
    domain, bus, dev = bus_id.split(".", maxsplit=1)[0].split(":")
    return int(domain, 16), int(bus, 16), int(dev, 16)


def cuda_bus_id(bus_id: str) -> str:
    """NVML's 8-digit-domain form to the 'dddd:bb:dd.0' that cuDeviceGetByPCIBusId takes."""
    domain, bus, dev = bus_key(bus_id)
    return f"{domain:04x}:{bus:02x}:{dev:02x}.0"
