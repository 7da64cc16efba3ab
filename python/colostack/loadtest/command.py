"""`colostack loadtest`: load the gateway, report latency and throughput, judge the SLO.

Exit codes: 0 the SLO held, 1 it did not (or a health probe failed), 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from colostack.argtypes import count, positive, share
from colostack.errors import UserError
from colostack.loadtest import mix as mixes
from colostack.loadtest.stats import Sample, Slo, Summary, summarise

if TYPE_CHECKING:  # openai and httpx load only when a load test runs: hosts lack them
    from colostack.loadtest.runner import Arrival, Target

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RESERVOIR = 50_000  # samples kept for the overall percentiles of a long soak


def duration(text: str) -> float:
    """30, 30s, 10m, 72h or 2d."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive duration such as 90s, 10m or 72h, got {text!r}"
        )
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "loadtest",
        help="load the gateway with OpenAI-compatible requests; judge the SLO",
        description=__doc__,
    )
    p.add_argument("--url", required=True, help="gateway base URL, e.g. https://gw.example:8443")
    p.add_argument("--model", required=True, help="model name as served (the request's 'model')")
    p.add_argument(
        "--api-key-file", type=Path, help="file holding the API key (default: $COLOSTACK_API_KEY)"
    )
    p.add_argument("--ca-file", help="CA bundle that signed the gateway's certificate")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--rate", type=positive, help="requests per second (open loop)")
    how.add_argument("--concurrency", type=count, help="requests kept in flight (closed loop)")
    p.add_argument(
        "--requests", type=count, default=1000, help="stop after this many requests (default 1000)"
    )
    p.add_argument(
        "--duration", type=duration, default=60.0, help="stop after this long (default 60s)"
    )
    p.add_argument(
        "--soak",
        type=duration,
        help="run this long (e.g. 72h), printing one summary line per --summary-every",
    )
    p.add_argument(
        "--summary-every", type=duration, default=600.0, help="soak summary interval (default 10m)"
    )
    p.add_argument(
        "--mix", type=Path, help="YAML request mix (default: 100-token completions, chat and text)"
    )
    p.add_argument(
        "--slo-ttft-p95-ms",
        type=positive,
        default=200.0,
        help="p95 time to first token at most this (default 200, the seed's bar)",
    )
    p.add_argument("--slo-e2e-p95-ms", type=positive, help="p95 end-to-end latency at most this")
    p.add_argument(
        "--max-error-rate", type=share, default=0.01, help="at most this share of errors (0: none)"
    )
    p.add_argument(
        "--health-url",
        action="append",
        default=[],
        help="URL that must answer 2xx throughout the run (repeatable), e.g. a node's /health",
    )
    p.add_argument(
        "--health-every", type=positive, default=5.0, help="seconds between health probes"
    )
    p.add_argument("--json", type=Path, help="write the summary and the samples here")
    p.add_argument("--html", type=Path, help="write the one-page report here")
    p.add_argument("--seed", type=int, default=0, help="seed for the request mix")
    p.set_defaults(func=main)


def api_key(path: Path | None) -> str:
    key = path.read_text().strip() if path else os.environ.get("COLOSTACK_API_KEY", "")
    if not key:
        raise UserError("no API key: pass --api-key-file or set COLOSTACK_API_KEY")
    return key


async def probe(
    urls: list[str], every: float, ca_file: str | None, stop: asyncio.Event, failures: list[str]
) -> None:
    import httpx2 as httpx  # noqa: PLC0415

    async with httpx.AsyncClient(verify=ca_file or True, timeout=5) as http:
        while True:
            for url in urls:
                try:
                    status = (await http.get(url)).status_code
                except httpx.HTTPError as exc:
                    status, reason = 0, type(exc).__name__
                else:
                    reason = f"HTTP {status}"
                if not 200 <= status < 300:
                    failures.append(f"health {url}: {reason}")
            try:
                await asyncio.wait_for(stop.wait(), every)
                return
            except TimeoutError:
                continue


async def window(
    target: Target,
    mixture: mixes.Mix,
    arrival: Arrival,
    args: argparse.Namespace,
    *,
    seed: int,
    failures: list[str],
) -> tuple[list[Sample], float]:
    from colostack.loadtest.runner import run  # noqa: PLC0415

    stop = asyncio.Event()
    checker = (
        asyncio.create_task(probe(args.health_url, args.health_every, args.ca_file, stop, failures))
        if args.health_url
        else None
    )
    try:
        return await run(target, mixture, arrival, seed)
    finally:
        stop.set()
        if checker:
            await checker


def line(s: Summary) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.0f}"

    return (
        f"{s.requests} req, {s.errors} err, {s.tokens_per_s:.1f} tok/s, ttft p50/p95/p99 "
        f"{ms(s.ttft_s['p50'])}/{ms(s.ttft_s['p95'])}/{ms(s.ttft_s['p99'])} ms, e2e p95 "
        f"{ms(s.e2e_s['p95'])} ms, SLO {'met' if s.slo_met else 'NOT met'}"
    )


def main(args: argparse.Namespace) -> int:
    from colostack.loadtest import report  # noqa: PLC0415
    from colostack.loadtest.runner import Arrival, Target  # noqa: PLC0415

    target = Target(
        args.url.rstrip("/") + "/v1", args.model, api_key(args.api_key_file), args.ca_file
    )
    mixture = mixes.load(args.mix) if args.mix else mixes.DEFAULT
    slo = Slo(
        args.slo_ttft_p95_ms / 1000,
        args.slo_e2e_p95_ms / 1000 if args.slo_e2e_p95_ms else None,
        args.max_error_rate,
    )
    failures: list[str] = []
    kept: list[Sample] = []
    seen = 0
    total_s = 0.0
    rng = random.Random(args.seed)
    windows = max(1, round(args.soak / args.summary_every)) if args.soak else 1
    for i in range(windows):
        length = args.summary_every if args.soak else args.duration
        arrival = Arrival(args.rate, args.concurrency, args.requests, length)
        samples, took = asyncio.run(
            window(target, mixture, arrival, args, seed=args.seed + i, failures=failures)
        )
        total_s += took
        if args.soak:
            print(f"window {i + 1}/{windows}: {line(summarise(samples, took, slo))}", flush=True)
        for s in samples:  # a reservoir keeps memory bounded over a 72 h soak
            seen += 1
            if len(kept) < _RESERVOIR:
                kept.append(s)
            elif (j := rng.randrange(seen)) < _RESERVOIR:
                kept[j] = s
        if failures:
            break
    summary = summarise(kept, total_s, slo)
    summary.failures.extend(dict.fromkeys(failures))  # health failures, each named once
    summary.slo_met = not summary.failures
    print(line(summary))
    for f in summary.failures:
        print(f"  {f}", file=sys.stderr)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"summary": summary.as_dict(), "samples": [s.__dict__ for s in kept]}, indent=1
            )
        )
    if args.html:
        report.write(args.html, f"colostack loadtest: {args.model} at {args.url}", summary, kept)
    return 0 if summary.slo_met else 1
