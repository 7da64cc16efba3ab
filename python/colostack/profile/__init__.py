"""Workload profiling: sample GPUs through NVML, judge if the load is steady enough to own."""
