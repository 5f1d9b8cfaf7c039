"""The code stays clean under mypy --strict and ruff (both are test dependencies)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from helpers import ROOT


@pytest.mark.parametrize(
    "command",
    [["mypy", "--strict", "ifgen"], ["ruff", "check", "."], ["ruff", "format", "--check", "ifgen"]],
    ids=["mypy", "ruff-check", "ruff-format"],
)
def test_tool_is_clean(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is missing: install the test extras (pip install '.[test]')")
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
