"""`colostack tco`: monthly cost and break-even month per approach, and a cumulative plot."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from colostack.tco.model import TcoConfigError, defaults, evaluate, load_override, merge
from colostack.terminal import stdout_console


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tco", help="compare cloud rental, an inference API, owned and hybrid")
    p.add_argument("--config", type=Path, help="YAML overriding any of the defaults")
    p.add_argument("--plot", type=Path, help="write the cumulative-cost PNG here")
    p.add_argument("--print-defaults", action="store_true", help="print the default config")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.print_defaults:
        print(yaml.safe_dump(defaults(), sort_keys=False), end="")
        return 0
    override = load_override(args.config) if args.config else {}
    try:
        result = evaluate(merge(defaults(), override))
    except TcoConfigError as exc:  # the CLI prints it as one line; name the file too
        raise TcoConfigError(f"tco config {args.config or '(defaults)'}: {exc}") from None
    even = result.break_even()
    stdout_console().print(f"power caps per GPU: {', '.join(map(str, result.caps_w))} W "
                           f"(node at most {result.node_power_w:g} W)", markup=False)
    print(f"{'approach':<12} {'capital':>12} {'running/mo':>12} {'amortised/mo':>13} "
          f"{'break-even':>12}")
    for a in result.approaches:
        m = even.get(a.name, "baseline")
        when = "never" if m is None else ("from start" if m == 0 else m)
        print(f"{a.name:<12} {a.capex:12,.0f} {a.monthly:12,.0f} "
              f"{a.amortised_monthly(result.amortisation_months):13,.0f} "
              f"{when if isinstance(when, str) else f'month {when}':>12}")
    if args.plot:
        from colostack.tco.plot import write_png  # noqa: PLC0415 (matplotlib is optional)

        write_png(result, args.plot)
        print(f"wrote {args.plot}")
    return 0
