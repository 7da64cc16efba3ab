"""`colostack cost-agent` (one agent run) and `colostack chargeback --month YYYY-MM`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from colostack.cost.chargeback import ChargebackError, RateCard, compute
from colostack.cost.usage import check_month, read_month


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    a = sub.add_parser("cost-agent", help="add this host's GPU and storage usage to Redis once")
    a.add_argument("--config", type=Path, default=Path("/etc/colostack/cost-agent.yml"))
    a.set_defaults(func=run_agent)

    c = sub.add_parser("chargeback", help="turn a month of Redis usage into costs per service")
    c.add_argument("--month", required=True, help="YYYY-MM")
    c.add_argument("--rate-card", type=Path, required=True,
                   help="YAML with the rate card (the inventory's cost_agent.yml works)")
    c.add_argument("--redis-url", default="redis://localhost:6379/0")
    c.add_argument("--redis-password-file", type=Path, help="file holding the Redis password")
    c.add_argument("--out", type=Path, default=Path("."), help="directory for CSV, JSON, HTML")
    c.add_argument("--note", default="", help="line shown at the top of the HTML and in the JSON")
    c.set_defaults(func=run_chargeback)


def run_agent(args: argparse.Namespace) -> int:
    from colostack.cost.agent import AgentConfig, run_once  # noqa: PLC0415 (optional dependency)

    for service, u in sorted(run_once(AgentConfig.load(args.config), time.time()).items()):
        print(f"{service}: +{u.gpu_seconds:.1f} GPU-s, +{u.gpu_kwh:.6f} kWh, "
              f"+{u.storage_gb_days:.6f} GB-days")
    return 0


def run_chargeback(args: argparse.Namespace) -> int:
    import redis  # noqa: PLC0415 (optional dependency)

    from colostack.cost import report  # noqa: PLC0415 (matplotlib is optional)

    try:
        card = RateCard.load(args.rate_card)
        month = check_month(args.month)
        password = (args.redis_password_file.read_text().strip()
                    if args.redis_password_file else None)
        client = redis.Redis.from_url(args.redis_url, password=password, socket_timeout=10)
        bill = compute(read_month(client, month), card)
    except (ChargebackError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"chargeback-{month}"
    report.write_csv(bill, stem.with_suffix(".csv"))
    report.write_json(bill, stem.with_suffix(".json"), args.note)
    report.write_html(bill, stem.with_suffix(".html"), args.note)
    for line in bill.lines:
        print(f"{line.service:<20} {line.gpu_hours:10.1f} GPU-h {line.total:12.2f} {bill.currency}")
    print(f"{'total':<20} {'':>16} {bill.total:12.2f} {bill.currency}")
    print(f"wrote {stem}.csv, .json, .html")
    return 0
