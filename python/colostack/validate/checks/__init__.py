"""Check families. Each module exposes `run(ctx) -> list[CheckResult]`."""
