"""Write each role README's variable table from the role's meta/argument_specs.yml.

The spec is the one description of a role's variables; the README shows it between two marker
lines and is hand-written around them. `make docs` runs this for every role; `--check` changes
nothing and exits 1 naming each stale README (tests/test_roles.py runs the same comparison).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REGENERATE = "make docs"
BEGIN = f"<!-- BEGIN variables: generated from meta/argument_specs.yml by `{REGENERATE}` -->"
END = "<!-- END variables -->"
HEADER = "| Variable | Type | Default | Description |\n|---|---|---|---|"
# A `<` that Markdown would take for the start of an HTML tag (`<name>`), outside code spans.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def _cell(text: str) -> str:
    """Make text safe inside a table cell without touching `code spans`."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        # Backslashes stay visible (regex formats), `<name>` is not taken for an HTML tag.
        parts[i] = _TAG_START.sub("&lt;", parts[i].replace("\\", "\\\\"))
    return "`".join(parts).replace("|", "\\|").replace("\n", " ")


def _code(value: str) -> str:
    fence = "``" if "`" in value else "`"
    return f"{fence}{value}{fence}"


def _description(option: dict[str, Any]) -> str:
    text = option.get("description", "")
    if isinstance(text, list):
        text = " ".join(str(line) for line in text)
    return _cell(" ".join(str(text).split()))


def _type(option: dict[str, Any]) -> str:
    kind = str(option.get("type", "str"))
    if "elements" in option:
        kind = f"{kind} of {option['elements']}"
    if "choices" in option:
        kind += ": " + ", ".join(_code(_scalar(c)) for c in option["choices"])
    if option.get("no_log"):
        kind += ", secret"
    return _cell(kind)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


DERIVED = "derived"
DERIVED_NOTE = (
    f"A {DERIVED} default is computed in `defaults/main.yml` from host facts or other variables;"
    " its description says how."
)


def _default(option: dict[str, Any], top_level: bool) -> str:
    if option.get("required"):
        return "required"
    if "default" not in option:
        # A role variable then gets its value in defaults/main.yml; a key of an item is left out.
        return DERIVED if top_level else "omitted"
    value = _scalar(option["default"])
    return _code(value) if value else '`""`'


def _rows(options: dict[str, Any], prefix: str = "") -> list[str]:
    rows = []
    for name, given in options.items():
        option = given or {}
        rows.append(
            f"| {_code(prefix + name)} | {_type(option)} | {_default(option, not prefix)} "
            f"| {_description(option)} |"
        )
        if option.get("options"):
            item = "[]." if option.get("type") == "list" else "."
            rows += _rows(option["options"], f"{prefix}{name}{item}")
    return rows


def render(specs: dict[str, Any]) -> str:
    """The generated block for one role's argument_specs, markers included."""
    main = specs.get("main", {}).get("options") or {}
    out = [BEGIN, "", HEADER, *_rows(main)]
    if any(f"| {DERIVED} |" in row for row in out):
        out += ["", DERIVED_NOTE]
    for entry, spec in specs.items():
        if entry == "main":
            continue
        options = spec.get("options") or {}
        summary = " ".join(str(spec.get("short_description", "")).split()).rstrip(".")
        out += ["", f"Entry point `{entry}` (`tasks_from: {entry}`): {_cell(summary)}."]
        if options == main:
            out[-1] += " It takes the same variables as the role."
            continue
        shared = [_code(name) for name in options if name in main]
        if shared:
            out[-1] += " It reads " + ", ".join(shared) + " (described above)."
        own = {name: option for name, option in options.items() if name not in main}
        if own:
            out += ["", HEADER, *_rows(own)]
    return "\n".join([*out, "", END])


def updated_readme(readme: str, block: str) -> str:
    """The README with its generated block replaced, or appended under a heading if it has none."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start == -1 or end < start:
        return readme.rstrip("\n") + "\n\n## Variables\n\n" + block + "\n"
    return readme[:start] + block + readme[end + len(END) :]


def expected_readme(role_dir: Path) -> str:
    specs = yaml.safe_load((role_dir / "meta" / "argument_specs.yml").read_text())
    readme = role_dir / "README.md"
    current = readme.read_text() if readme.exists() else f"# {role_dir.name}\n"
    return updated_readme(current, render(specs["argument_specs"]))


def role_dirs(roles: Path) -> list[Path]:
    return sorted(p for p in roles.iterdir() if (p / "meta" / "argument_specs.yml").is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", type=Path, default=Path(__file__).resolve().parents[2] / "roles")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    stale = []
    for role_dir in role_dirs(args.roles):
        readme = role_dir / "README.md"
        text = expected_readme(role_dir)
        if readme.exists() and readme.read_text() == text:
            continue
        stale.append(readme)
        if not args.check:
            readme.write_text(text)
            print(f"wrote {readme}")
    if args.check and stale:
        print("\n".join(f"stale: {p}" for p in stale), f"\nrun `{REGENERATE}`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
