"""`colostack cost-agent` (one agent run) and `colostack chargeback --month YYYY-MM`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from colostack import redisconn, schema
from colostack.cost.chargeback import RateCard, compute
from colostack.cost.usage import check_month, read_month


def month(text: str) -> str:
    """argparse type: YYYY-MM."""
    try:
        return check_month(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    a = sub.add_parser("cost-agent", help="add this host's GPU and storage usage to Redis once")
    a.add_argument("--config", type=Path, default=Path("/etc/colostack/cost-agent.yml"),
                   help="agent configuration YAML (%(default)s)")
    a.set_defaults(func=run_agent)

    c = sub.add_parser("chargeback", help="turn a month of Redis usage into costs per service")
    c.add_argument("--month", type=month, required=True, help="YYYY-MM")
    c.add_argument("--rate-card", type=Path, required=True,
                   help="YAML with the rate card (the inventory's cost_agent.yml works)")
    c.add_argument("--redis-url", default="redis://localhost:6379/0",
                   help="Redis holding the usage (%(default)s)")
    c.add_argument("--redis-password-file", type=Path, help="file holding the Redis password")
    c.add_argument("--redis-ca-file", type=Path,
                   help="CA certificate the rediss:// server's certificate is checked against")
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
    from colostack.cost import report  # noqa: PLC0415 (matplotlib is optional)

    card = RateCard.load(args.rate_card)
    password = (schema.read_text(args.redis_password_file, "Redis password file").strip()
                if args.redis_password_file else None)
    client = redisconn.connect(args.redis_url, password,
                               ca_file=str(args.redis_ca_file) if args.redis_ca_file else None)
    bill = compute(read_month(client, args.month), card)  # a ChargebackError is one line
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"chargeback-{args.month}"
    report.write_csv(bill, stem.with_suffix(".csv"))
    report.write_json(bill, stem.with_suffix(".json"), args.note)
    report.write_html(bill, stem.with_suffix(".html"), args.note)
    for line in bill.lines:
        print(f"{line.service:<20} {line.gpu_hours:10.1f} GPU-h {line.total:12.2f} {bill.currency}")
    print(f"{'total':<20} {'':>16} {bill.total:12.2f} {bill.currency}")
    print(f"wrote {stem}.csv, .json, .html")
    return 0
