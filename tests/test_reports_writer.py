"""The report builder, the outcome rules and the atomic writer."""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reports import RunReport, decide, describe, load_report, new_run_id, show, write_report
from reports.errors import ReportError
from reports.schema import RawCheck, RawError
from reports.validate import validate

HOST = {"hostname": "ci-runner-7", "ci": True, "platform": "Linux-6.1-x86_64", "python": "3.11.7"}


class FakeClock:
    """A wall clock and a monotonic clock that move only when told."""

    def __init__(self) -> None:
        self.wall = datetime(2026, 11, 26, 15, 38, 24, tzinfo=UTC)
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def new_report(clock: FakeClock, **overrides: object) -> RunReport:
    settings: dict[str, object] = {
        "distro": "podman",
        "mode": "embedded",
        "release": "4.0",
        "image_source": "lab",
        "run_id": "20261126T153824Z-3f9a",
        "tool_version": "0.1.0",
        "git_commit": "abc123",
        "host": HOST,
        "clock": clock.now,
        "monotonic": clock.monotonic,
    }
    settings.update(overrides)
    return RunReport(**settings)  # type: ignore[arg-type]  # the test passes known-good keyword values


def check(outcome: str, check_id: str = "a") -> RawCheck:
    return {
        "id": check_id,
        "name": "pod-healthy",
        "nodeid": f"suites/test_pod.py::test_{check_id}",
        "outcome": outcome,  # type: ignore[typeddict-item]  # parametrized with every outcome
        "reason": "",
        "duration_s": 0.1,
        "kind": None,
        "ended_s": 1.5,
    }


INFRA: RawError = {"kind": "infra", "phase": "ready", "message": "pod not Ready after 300 s"}
PRODUCT: RawError = {"kind": "product", "phase": "first_event", "message": "no event within 60 s"}


# --- outcome rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "interrupted", "outcomes", "expected"),
    [
        (None, False, ["passed", "passed"], "passed"),
        (None, False, ["passed", "not-run"], "failed"),  # a claim that could not be checked is not proven
        (None, False, ["passed", "failed"], "failed"),
        (None, False, ["passed", "error"], "failed"),
        (None, False, [], "failed"),  # nothing ran: never green
        (None, False, ["not-run", "not-run"], "failed"),
        (PRODUCT, False, ["passed"], "failed"),
        (INFRA, False, [], "infra-error"),
        (INFRA, False, ["failed"], "infra-error"),
        (INFRA, True, [], "infra-error"),  # the infra error is why the run stopped
        (None, True, ["passed"], "interrupted"),
        (None, True, ["failed"], "interrupted"),
        (PRODUCT, True, ["passed"], "interrupted"),
    ],
)
def test_decide_follows_the_documented_rules(
    error: RawError | None, interrupted: bool, outcomes: list[str], expected: str
) -> None:
    checks = [check(o, str(i)) for i, o in enumerate(outcomes)]
    assert decide(error=error, interrupted=interrupted, checks=checks) == expected


# --- the builder ----------------------------------------------------------------------------------


def test_run_report_to_dict_has_the_schema_shape_and_the_recorded_facts(clock: FakeClock) -> None:
    report = new_report(clock)
    report.set_fingerprint({"podman_version": "4.3.1", "oci_runtime": "runc 1.1.5", "cgroup_mode": "v1 (hybrid)"})
    report.set_images(
        [{"component": "core-data", "ref": "localhost/edgex-smoke-lab/core-data:4.0.2", "digest": None, "labels": {}}]
    )
    report.set_version("core-data", "4.0.2")
    with report.phase("provision"):
        clock.advance(0.1)
    report.start_phase("apply")
    clock.advance(1.6)
    assert report.end_phase("apply") == 1.6
    report.record_phase("first_event", 12.8)
    report.record_check(
        check_id="a",
        name="pod-healthy",
        nodeid="suites/test_pod.py::test_every_container_runs_without_restarts",
        outcome="passed",
        duration_s=0.4,
    )
    report.add_reaped(["edgex-smoke-20261125t101010z-0000-pod"])
    report.set_artifacts(junit="junit-20261126T153824Z-3f9a.xml")
    clock.advance(10)
    report.finish()
    clock.advance(99)  # after finish nothing moves

    data = report.to_dict()

    validate(data, source="test")
    assert data["schema_version"] == 3
    assert data["root_cause"] is None
    assert data["run_id"] == "20261126T153824Z-3f9a"
    assert data["started_at"] == "2026-11-26T15:38:24Z"
    assert data["finished_at"] == "2026-11-26T15:38:35Z"
    assert data["tool"] == {"name": "edgex-smoke", "version": "0.1.0", "git_commit": "abc123"}
    assert data["host"] == HOST
    assert data["target"]["fingerprint"]["podman_version"] == "4.3.1"
    assert data["edgex"]["versions"] == {"core-data": "4.0.2"}
    assert data["phases"] == {
        "provision": 0.1,
        "apply": 1.6,
        "ready": None,
        "first_event": 12.8,
        "checks": None,
        "teardown": None,
        "total": 11.7,
    }
    assert data["outcome"] == "passed"
    assert data["error"] is None
    assert data["interrupted_phase"] is None
    assert data["reaped"] == ["edgex-smoke-20261125t101010z-0000-pod"]
    assert data["artifacts"] == {"junit": "junit-20261126T153824Z-3f9a.xml", "diagnostics": None}


def test_to_dict_is_a_copy_that_later_changes_do_not_touch(clock: FakeClock) -> None:
    report = new_report(clock)
    report.set_version("core-data", "4.0.2")
    data = report.to_dict()
    data["edgex"]["versions"]["core-data"] = "9.9.9"
    report.set_version("core-metadata", "4.0.2")
    assert report.to_dict()["edgex"]["versions"] == {"core-data": "4.0.2", "core-metadata": "4.0.2"}
    assert data["edgex"]["versions"] == {"core-data": "9.9.9"}


def test_phase_left_by_an_exception_stays_null_and_is_the_current_phase(clock: FakeClock) -> None:
    report = new_report(clock)
    with pytest.raises(TimeoutError), report.phase("ready"):
        clock.advance(300)
        raise TimeoutError
    assert report.current_phase() == "ready"
    report.mark_interrupted()
    data = report.to_dict()
    assert data["phases"]["ready"] is None
    assert data["outcome"] == "interrupted"
    assert data["interrupted_phase"] == "ready"


def test_phase_misuse_is_refused_with_a_clear_message(clock: FakeClock) -> None:
    report = new_report(clock)
    with pytest.raises(ReportError, match="'apply' was never started"):
        report.end_phase("apply")
    report.start_phase("apply")
    with pytest.raises(ReportError, match="'apply' was already started"):
        report.start_phase("apply")
    with pytest.raises(ReportError, match="phase 'deploy' is unknown; choose one of: provision, apply"):
        report.start_phase("deploy")  # type: ignore[arg-type]  # what a typo in the plugin would do


def test_fail_keeps_the_first_error_and_cuts_the_message_to_one_line(clock: FakeClock) -> None:
    report = new_report(clock)
    report.fail("infra", "ready", "pod edgex not Ready\nafter 300 s;   last state ImagePullBackOff" + "x" * 400)
    report.fail("product", "checks", "fallout")
    data = report.to_dict()
    assert data["outcome"] == "infra-error"
    assert data["error"] is not None
    assert data["error"]["kind"] == "infra"
    assert data["error"]["message"].startswith("pod edgex not Ready after 300 s; last state ImagePullBackOff")
    assert len(data["error"]["message"]) == 300
    assert "\n" not in data["error"]["message"]


def test_the_root_cause_names_the_component_and_the_checks_it_blocked(clock: FakeClock) -> None:
    report = new_report(clock)
    report.fail("product", "ready", "core-data: exited, exit code 1, 2 restart(s); last error: x; see its log")
    report.set_root_cause("core-data", "exited, exit code 1, 2 restart(s)", ["last error: x"])
    report.set_root_cause("gateway", "fallout", [])
    for check_id, nodeid in (("a", "t::a1"), ("a", "t::a2"), ("b", "t::b")):
        report.record_check(check_id=check_id, name="n", nodeid=nodeid, outcome="blocked", duration_s=0.0)
    data = report.to_dict()
    validate(data, source="test")
    assert data["outcome"] == "failed"
    assert data["root_cause"] == {
        "component": "core-data",
        "problem": "exited, exit code 1, 2 restart(s)",
        "evidence": ["last error: x"],
        "blocked": ["a", "b"],
    }
    assert (
        describe.status(data)
        == "❌ failed (ready), root cause core-data: exited, exit code 1, 2 restart(s); blocked a, b"
    )
    text = show.summary(data, Path("r.json"))
    assert "  root cause: core-data: exited, exit code 1, 2 restart(s)\n    evidence: last error: x\n" in text
    assert "    blocked checks: a, b\n" in text


def test_a_version_1_report_still_loads_without_a_root_cause(clock: FakeClock) -> None:
    data: dict[str, Any] = dict(new_report(clock).to_dict())
    data["schema_version"] = 1
    del data["root_cause"]
    assert validate(data, source="v1").get("root_cause") is None


def test_record_check_folds_setup_call_and_teardown_of_one_item(clock: FakeClock) -> None:
    report = new_report(clock)
    nodeid = "suites/test_api.py::test_core_data_answers_ping"
    report.record_check(check_id="b", name="ping", nodeid=nodeid, outcome="passed", duration_s=0.5)
    clock.advance(2)
    report.record_check(
        check_id="b",
        name="ping",
        nodeid=nodeid,
        outcome="error",
        duration_s=0.25,
        reason="teardown: boom",
        kind="infra",
    )
    clock.advance(3)
    report.record_check(check_id="b", name="ping", nodeid=nodeid, outcome="passed", duration_s=0.25)
    (only,) = report.to_dict()["checks"]
    assert only["outcome"] == "error"
    assert only["reason"] == "teardown: boom"
    assert only["kind"] == "infra"
    assert only["duration_s"] == 1.0
    assert only["ended_s"] == 5.0, "the last of its pytest phases stamps its end, counted from the run's start"
    assert report.to_dict()["outcome"] == "failed"


def test_record_check_refuses_an_unknown_outcome(clock: FakeClock) -> None:
    with pytest.raises(ReportError, match="check outcome 'xfailed' is unknown"):
        new_report(clock).record_check(
            check_id="a",
            name="n",
            nodeid="t::n",
            outcome="xfailed",  # type: ignore[arg-type]  # pytest's own word, which the plugin must map
            duration_s=0,
        )


def test_a_run_with_no_checks_is_not_passed(clock: FakeClock) -> None:
    assert new_report(clock).to_dict()["outcome"] == "failed"


def test_new_run_id_is_sortable_utc_time_plus_random_suffix() -> None:
    run_id = new_run_id(datetime(2026, 11, 26, 15, 38, 24, tzinfo=UTC))
    assert re.fullmatch(r"20261126T153824Z-[0-9a-f]{4}", run_id)


def test_defaults_describe_this_host_and_read_the_commit_from_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("GITHUB_SHA", "0123abcd")
    data = RunReport(distro="k3s", mode="provisioned", release="4.0", image_source="upstream").to_dict()
    assert data["host"]["ci"] is True
    assert data["host"]["python"].startswith("3.11")
    assert data["tool"]["git_commit"] == "0123abcd"
    assert data["tool"]["version"]  # the installed version, or "unknown" from a bare source tree
    validate(data, source="test")


# --- writing --------------------------------------------------------------------------------------


def finished_report(clock: FakeClock) -> RunReport:
    report = new_report(clock)
    report.record_check(check_id="a", name="pod-healthy", nodeid="t::a", outcome="passed", duration_s=0.4)
    return report


def test_write_report_writes_run_id_json_that_loads_back(tmp_path: Path, clock: FakeClock) -> None:
    report = finished_report(clock)
    path = report.write(tmp_path / "out")
    assert path == tmp_path / "out" / "20261126T153824Z-3f9a.json"
    assert load_report(path) == report.to_dict()
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text().endswith("}\n")


def test_write_report_scrubs_secrets_before_writing(tmp_path: Path, clock: FakeClock) -> None:
    report = finished_report(clock)
    report.set_fingerprint({"k3s_version": "v1.34.4+k3s1", "node_token": "K10abc::server:s3cr3t"})
    report.fail("product", "checks", "GET /api/v3/ping with Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2ln failed")
    text = report.write(tmp_path).read_text()
    assert "s3cr3t" not in text
    assert "eyJ" not in text
    assert '"node_token": "[redacted]"' in text
    assert "v1.34.4+k3s1" in text


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_write_report_leaves_no_partial_or_temporary_file_when_writing_fails(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = tmp_path / "20261126T153824Z-3f9a.json"
    target.write_text('{"old": "complete"}')

    def broken(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, broken)
    with pytest.raises(ReportError, match=r"20261126T153824Z-3f9a\.json: cannot write the report: No space left"):
        write_report(finished_report(clock).to_dict(), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    assert json.loads(target.read_text()) == {"old": "complete"}


def test_write_report_cleans_up_when_interrupted_mid_write(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_report(finished_report(clock).to_dict(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_write_report_refuses_an_invalid_report_and_writes_nothing(tmp_path: Path, clock: FakeClock) -> None:
    data = dict(finished_report(clock).to_dict())
    data["outcome"] = "green"
    with pytest.raises(ReportError, match="report 20261126T153824Z-3f9a: outcome is 'green'; expected one of: passed"):
        write_report(data, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("run_id", ["../escape", "", ".hidden", "a/b"])
def test_write_report_refuses_a_run_id_that_is_not_a_plain_file_name(
    tmp_path: Path, clock: FakeClock, run_id: str
) -> None:
    data = dict(finished_report(clock).to_dict())
    data["run_id"] = run_id
    with pytest.raises(ReportError, match="cannot be a file name"):
        write_report(data, tmp_path)
    assert list(tmp_path.iterdir()) == []
