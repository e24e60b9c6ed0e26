"""Every command explains itself and ends its help with an example."""

from __future__ import annotations

import argparse

import pytest

from bazaar.cli.main import COMMANDS, build_parser, main


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no sub-commands")


def test_every_command_is_registered() -> None:
    assert set(COMMANDS) <= set(_subparsers())


@pytest.mark.parametrize("name", sorted(_subparsers()))
def test_every_command_help_ends_with_an_example(name: str) -> None:
    sub = _subparsers()[name]
    assert sub.description, f"{name} has no description"
    text = sub.format_help().rstrip()
    assert "example:" in text, f"{name} help lacks an example"
    assert text.splitlines()[-1].strip().startswith("bazaar "), f"{name}: example last"


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
