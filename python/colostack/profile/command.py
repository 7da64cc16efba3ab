"""`colostack profile`: record GPU samples (NVML) or replay a recording, then summarise it."""

from __future__ import annotations

import argparse
import json
import math
import socket
from dataclasses import asdict
from pathlib import Path

from colostack import argtypes, redisconn
from colostack.errors import UserError
from colostack.nvml.session import Session
from colostack.profile import samples as store
from colostack.profile.analysis import Profile, Thresholds, analyse
from colostack.profile.sampler import sample_forever
from colostack.terminal import stderr_progress, stdout_console


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("profile", help="sample GPUs via NVML and judge if the load is steady")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--replay", type=Path, help="analyse a JSONL recording instead of NVML")
    src.add_argument("--replay-redis", metavar="URL", help="analyse the Redis stream of --host")
    p.add_argument("--out", type=Path, help="JSONL file to append samples to")
    p.add_argument("--redis-url", help="also append samples to a Redis stream")
    p.add_argument("--redis-maxlen", type=argtypes.count, default=300_000,
                   help="cap of the Redis stream (30 days at 10 s with 1 GPU is 259,200)")
    p.add_argument("--host", default=socket.gethostname(),
                   help="host name the samples are filed under (default: this host)")
    p.add_argument("--interval", type=argtypes.positive, default=10.0,
                   help="seconds between samples")
    p.add_argument("--duration", type=argtypes.positive, default=60.0, help="seconds to sample")
    p.add_argument("--timeout", type=argtypes.positive, default=5.0,
                   help="limit for each NVML call")
    p.add_argument("--busy-util", type=argtypes.percent, default=Thresholds.busy_util_pct,
                   help="utilisation %% at which a GPU counts as busy (%(default)s)")
    p.add_argument("--min-busy-hours", type=argtypes.hours_per_day,
                   default=Thresholds.min_busy_hours_per_day,
                   help="busy hours per day a steady load needs (%(default)s)")
    p.add_argument("--max-cv", type=argtypes.non_negative, default=Thresholds.max_cv,
                   help="largest coefficient of variation of utilisation (%(default)s)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def _record(args: argparse.Namespace) -> list[store.Sample]:
    client = redisconn.connect(args.redis_url) if args.redis_url else None
    if args.out and not args.out.exists():
        store.write_header(args.out, args.host, synthetic=False, source="nvml")
    collected: list[store.Sample] = []
    with Session(args.timeout) as nvml, stderr_progress() as bar:
        task = bar.add_task(f"sampling every {args.interval:g} s",
                            total=math.ceil(args.duration / args.interval))
        for batch in sample_forever(nvml, args.interval, args.duration):
            bar.advance(task)
            collected.extend(batch)
            if args.out:
                store.append_jsonl(args.out, batch)
            if client is not None:
                store.append_redis(client, args.host, batch, args.redis_maxlen)
    return collected


def _print(profile: Profile, synthetic: bool) -> None:
    out = stdout_console()
    if synthetic:
        out.print("NOTE: this recording is SYNTHETIC, not from real hardware")
    out.print(f"period: {profile.days:.2f} days")
    out.print(f"{'gpu':>3} {'p50%':>6} {'p95%':>6} {'cv':>5} {'busy h/d':>8} {'mem p95':>7} "
              f"{'mem sat':>7} {'W avg':>6}")
    for g in profile.gpus:
        out.print(f"{g.gpu:>3} {g.util_p50:6.1f} {g.util_p95:6.1f} {g.util_cv:5.2f} "
                  f"{g.busy_hours_per_day:8.2f} {g.mem_p95_frac:7.0%} "
                  f"{g.mem_saturated_frac_of_time:7.1%} {g.mean_power_w:6.0f}")
    out.print(f"sizing: p95 demand {profile.demand_p95_gpus:.2f} GPUs over "
              f"{profile.sizing_days:.1f} days + headroom -> {profile.suggested_gpus} GPUs, "
              f"{profile.suggested_mem_gib:.0f} GiB GPU memory")
    verdict = "yes" if profile.steady else "no"
    out.print(f"steady enough to own? {verdict}: " + "; ".join(profile.reasons), markup=False)


def run(args: argparse.Namespace) -> int:
    th = Thresholds(busy_util_pct=args.busy_util, min_busy_hours_per_day=args.min_busy_hours,
                    max_cv=args.max_cv)
    synthetic = False
    if args.replay:
        rec = store.load(args.replay)
        samples, synthetic = rec.samples, rec.synthetic
    elif args.replay_redis:
        client = redisconn.connect(args.replay_redis)
        samples = list(store.read_redis(client, args.host))
    else:
        samples = _record(args)
    if not samples:
        raise UserError(f"no samples to analyse from {args.replay or args.replay_redis or 'NVML'}")
    profile = analyse(samples, th)
    if args.json:
        print(json.dumps({"synthetic": synthetic, **asdict(profile)}, indent=2))
    else:
        _print(profile, synthetic)
    return 0
