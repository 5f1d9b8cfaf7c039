"""Bad inventories: exact error text, exit status 2, nothing written, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import INVALID, run_main

CASES = sorted(p for p in INVALID.iterdir() if p.suffix in (".toml", ".json") or p.is_dir())


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_invalid_inventory(case: Path, tmp_path: Path, update_golden: bool) -> None:
    expected_file = case.with_name(case.stem + ".err") if case.is_file() else case / "expected.err"
    out_dir = tmp_path / "out"
    code, out, err = run_main("render", case, "-o", out_dir)
    if update_golden:
        expected_file.write_text(err)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err == expected_file.read_text()
    assert not out_dir.exists(), "nothing may be written for a bad inventory"
    code2, _, err2 = run_main("check", case)
    assert (code2, err2) == (2, err)
