"""The one NVML layer: a session that owns init and shutdown and bounds every call, the named
readings it can take, PCI bus ids, and the SKU and platform table. validate, profile and cost
sit on top of it; nothing else imports pynvml."""
