"""The help a user reads: the top-level help is a tool's help, and every option explains itself."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from colostack import __version__
from colostack.cli import build_parser, main


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases share a parser
                yield from _parsers(sub)


def test_every_option_of_every_subcommand_has_help() -> None:
    missing = [
        f"{p.prog} {'/'.join(a.option_strings) or a.dest}"
        for p in _parsers(build_parser()) for a in p._actions
        if not isinstance(a, argparse._SubParsersAction) and not (a.help or "").strip()
    ]
    assert missing == []


def test_every_subcommand_has_a_one_line_summary() -> None:
    root = build_parser()
    subs = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    summaries = {c.dest: c.help for c in subs._choices_actions}
    assert set(summaries) == set(subs.choices)
    assert all(s and "\n" not in s for s in summaries.values()), summaries


def test_top_level_help_describes_the_tool_and_points_to_command_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "validates NVIDIA GPU hosts" in out
    assert "colostack COMMAND --help" in out
    assert "Exit codes:" not in out  # the developer docstring is gone
    for command in ("validate", "rollout", "profile", "window", "cost-agent", "chargeback", "tco",
                    "powercap"):
        assert command in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"colostack {__version__}"
