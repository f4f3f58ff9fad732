"""The nightly workflow: actionlint accepts it, and its matrix covers every distro and release.

actionlint is built once from the Go module proxy by ``.ci/actionlint`` into a
cache outside the repository; the lint test is skipped only when it is not
built and no Go toolchain is there to build it.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

import distros
import manifests
from edgex_smoke import options
from harness import proc

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
ACTIONLINT = ROOT / ".ci" / "actionlint"
NOT_AVAILABLE = 127
MAX_CELL_MINUTES = 90


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    triggers = workflow.get("on", workflow.get(True))
    assert isinstance(triggers, dict), triggers
    return triggers


def _steps(job: dict[str, Any], uses: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).startswith(uses)]


def _run_text(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def test_workflow_passes_actionlint() -> None:
    done = proc.run([str(ACTIONLINT), str(WORKFLOW)], timeout_s=600, check=False, cwd=ROOT)
    if done.returncode == NOT_AVAILABLE:
        pytest.skip(f"actionlint cannot be had here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_runs_nightly_and_on_demand(workflow: dict[Any, Any]) -> None:
    triggers = _triggers(workflow)
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert triggers["schedule"][0]["cron"]


def test_matrix_names_every_distro_and_shipped_release(workflow: dict[Any, Any]) -> None:
    matrix = workflow["jobs"]["smoke"]["strategy"]["matrix"]
    assert sorted(matrix["distro"]) == distros.names()  # every registered driver gets a cell, nothing else
    assert set(manifests.OVERLAYS) <= set(matrix["distro"])
    assert matrix["edgex"] == list(manifests.RELEASES)
    assert matrix["security"] == list(options.SECURITY_MODES)  # the second axis: secure EdgeX too


def test_matrix_cells_run_independently_on_hosted_runners(workflow: dict[Any, Any]) -> None:
    smoke = workflow["jobs"]["smoke"]
    assert smoke["strategy"]["fail-fast"] is False
    assert smoke["runs-on"] == "ubuntu-latest"


def test_every_job_has_a_timeout(workflow: dict[Any, Any]) -> None:
    for name, job in workflow["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), name
        assert 0 < job["timeout-minutes"] <= MAX_CELL_MINUTES, name


def test_cells_use_the_drivers_own_provisioning(workflow: dict[Any, Any]) -> None:
    smoke = workflow["jobs"]["smoke"]
    assert smoke["env"]["DISTRO"] == "${{ matrix.distro }}"
    assert smoke["env"]["EDGEX"] == "${{ matrix.edgex }}"
    assert smoke["env"]["SECURITY"] == "${{ matrix.security }}"
    assert re.search(r'make smoke DISTRO="\$DISTRO" EDGEX="\$EDGEX" SECURITY="\$SECURITY"', _run_text(smoke))


def test_every_cell_uploads_report_junit_and_diagnostics_even_on_failure(workflow: dict[Any, Any]) -> None:
    (upload,) = _steps(workflow["jobs"]["smoke"], "actions/upload-artifact@")
    assert upload["if"] == "always()"
    assert "${{ matrix.distro }}" in upload["with"]["name"]
    assert "${{ matrix.edgex }}" in upload["with"]["name"]
    assert "${{ matrix.security }}" in upload["with"]["name"]
    paths = upload["with"]["path"].split()
    assert "reports/out/*.json" in paths
    assert "reports/out/*.xml" in paths
    assert any("diagnostics" in path for path in paths)


def test_table_job_renders_every_report_into_the_summary(workflow: dict[Any, Any]) -> None:
    table = workflow["jobs"]["table"]
    assert table["needs"] == "smoke"
    assert table["if"] == "always()"
    (download,) = _steps(table, "actions/download-artifact@")
    assert download["with"]["pattern"] == "smoke-*"
    script = _run_text(table)
    assert "python -m reports table" in script
    assert "-o docs/compatibility.md" in script
    assert '--expect-distros "$(python -m distros)"' in script
    assert f"--expect-releases {','.join(manifests.RELEASES)}" in script
    assert f"--expect-security {','.join(options.SECURITY_MODES)}" in script
    assert '>> "$GITHUB_STEP_SUMMARY"' in script
    (upload,) = _steps(table, "actions/upload-artifact@")
    assert upload["with"]["path"] == "docs/compatibility.md"


def test_the_makefile_and_the_workflow_take_the_distro_list_from_the_registry() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "--expect-distros $$($(PY) -m distros)" in makefile
    done = proc.run([sys.executable, "-m", "distros"], timeout_s=60, cwd=ROOT)
    assert done.stdout.strip() == ",".join(distros.names())


def test_workflow_names_no_download_site() -> None:
    # Installer locations come from repository variables, never from the file.
    text = WORKFLOW.read_text()
    assert not re.search(r"https?://", text)


def test_the_plugin_job_runs_every_python_the_package_declares(workflow: dict[Any, Any]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [
        c.rsplit(" :: ", 1)[1] for c in project["classifiers"] if c.startswith("Programming Language :: Python :: 3.")
    ]
    assert workflow["jobs"]["plugin"]["strategy"]["matrix"]["python"] == declared
    assert project["requires-python"] == f">={declared[0]},<3.{int(declared[-1].split('.')[1]) + 1}"
    assert "tests/test_packaging.py" in _run_text(workflow["jobs"]["plugin"])
