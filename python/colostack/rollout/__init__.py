"""Drive a playbook through ansible-runner with a deadline, and report per-host outcomes."""

from colostack.rollout.report import HostResult, RunReport, load_last_report, write_report
from colostack.rollout.runner import RolloutConfig, run_rollout

__all__ = [
    "HostResult",
    "RolloutConfig",
    "RunReport",
    "load_last_report",
    "run_rollout",
    "write_report",
]
