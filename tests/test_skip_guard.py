"""In CI, a skipped test outside the allow-list fails the run; out of CI, a skip is only reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import _skip_guard

ROOT = Path(__file__).resolve().parent.parent


def test_a_skip_fails_a_ci_run_and_only_in_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_x="import pytest\n\ndef test_skips():\n    pytest.skip('no lab here')\n")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_subprocess("-p", "tests._skip_guard", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*skip-guard: test_x.py::test_skips skipped in CI (no lab here); make it run*"])
    assert "edgex-smoke [provision]" not in result.stdout.str(), "a run whose tests never ask for EdgeX started it"
    monkeypatch.setenv("CI", "false")
    assert pytester.runpytest_subprocess("-p", "tests._skip_guard", "-p", "no:cacheprovider").ret == 0


def test_the_allow_list_is_read_and_matches_a_test_with_all_its_parameters() -> None:
    assert isinstance(_skip_guard.allowed(), dict)
    allow = {"tests/test_a.py::test_b": "why"}
    assert _skip_guard.is_allowed("tests/test_a.py::test_b[x-1]", allow)
    assert not _skip_guard.is_allowed("tests/test_a.py::test_c", allow)
