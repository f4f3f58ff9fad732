"""The CI gate reads exactly the report the run wrote, and fails on a stale, foreign or fake one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.labels import IMAGE_TEST_DOUBLE
from reports.cli import main
from tests.test_reports_table import write_run

REAL = {"core-data": "4.0.1", "device-virtual": "4.0.1"}


def _gate(directory: Path, *extra: str, distro: str = "podman", status: int = 0) -> int:
    return main(["gate", str(directory), "--distro", distro, "--status", str(status), "--real-edgex", *extra])


def test_a_passed_run_on_real_edgex_passes_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path, distro="podman", release="4.0", finished="2026-12-01T10:00", versions=REAL)
    assert _gate(tmp_path) == 0
    assert capsys.readouterr().out.startswith("ci: podman: ✅ passed 3/3 on EdgeX 4.0.1 (")


def test_a_gate_that_asks_for_secure_mode_refuses_a_run_that_was_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_run(tmp_path, distro="podman", release="4.0", finished="2026-12-01T10:00", versions=REAL)
    assert _gate(tmp_path, "--security", "on") == 2
    assert "the run's security was 'off', not 'on'" in capsys.readouterr().err
    assert _gate(tmp_path, "--security", "off") == 0


def test_a_directory_holding_only_a_stale_report_of_another_distro_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What the old gate did: `pytest --distro=k8s --provision=bogus` wrote nothing, and it read podman's report.
    write_run(tmp_path, distro="podman", release="4.0", finished="2026-12-01T10:00", versions=REAL)
    assert _gate(tmp_path, distro="k8s", status=4) == 2
    assert "the report is for 'podman', not 'k8s'" in capsys.readouterr().err


def test_no_report_or_two_reports_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _gate(tmp_path) == 2
    assert "holds 0 reports (none)" in capsys.readouterr().err
    first = write_run(tmp_path, distro="podman", release="4.0", finished="2026-12-01T10:00", versions=REAL)
    shutil.copy(first, tmp_path / "copy.json")
    assert _gate(tmp_path) == 2
    assert "holds 2 reports" in capsys.readouterr().err
    assert _gate(tmp_path / "missing") == 2
    assert "no such report directory" in capsys.readouterr().err


def test_an_exit_status_that_contradicts_the_report_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path, distro="podman", release="4.0", finished="2026-12-01T10:00", versions=REAL)
    assert _gate(tmp_path, status=1) == 2
    assert "exit status 1 does not match outcome 'passed'" in capsys.readouterr().err
    failed = tmp_path / "failed"
    write_run(failed, distro="podman", release="4.0", finished="2026-12-01T10:00", versions=REAL, failing={"a": "x"})
    assert _gate(failed, "--expect", "failed", status=6) == 2
    assert "exit status 6 does not match outcome 'failed', which exits 1" in capsys.readouterr().err


def test_a_failed_run_fails_a_gate_that_expects_a_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(
        tmp_path, distro="podman", release="4.0", finished="2026-12-01T10:00", versions=REAL, failing={"a": "restarted"}
    )
    assert _gate(tmp_path, status=1) == 2
    assert "expected passed, got ❌ failed" in capsys.readouterr().err


def test_a_run_on_the_test_double_or_with_no_edgex_answer_is_not_real_edgex(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    double = tmp_path / "double"
    write_run(
        double,
        distro="podman",
        release="4.0",
        finished="2026-12-01T10:00",
        versions={"core-data": "0.0.0-edgex-smoke-double"},
    )
    assert _gate(double) == 2
    assert "test double" in capsys.readouterr().err
    labelled = tmp_path / "labelled"  # real version strings, but images the test double's build labelled
    write_run(
        labelled,
        distro="podman",
        release="4.0",
        finished="2026-12-01T10:00",
        versions=REAL,
        image_labels={IMAGE_TEST_DOUBLE: "true"},
    )
    assert _gate(labelled) == 2
    assert "test double" in capsys.readouterr().err
    unlabelled = tmp_path / "unlabelled"  # real version strings from local images no lab build made
    write_run(unlabelled, distro="podman", release="4.0", finished="2026-12-01T10:00", versions=REAL, image_labels={})
    assert _gate(unlabelled) == 2
    err = capsys.readouterr().err
    assert "local images without the lab's build label: core-data (localhost/edgex-smoke-lab/core-data:4.0)" in err
    silent = tmp_path / "silent"
    write_run(silent, distro="podman", release="4.0", finished="2026-12-01T10:00")
    assert _gate(silent) == 2
    assert "no EdgeX service reported its version" in capsys.readouterr().err
