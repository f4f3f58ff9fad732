"""Loading a report refuses bad, old and foreign files with one line naming the file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reports import RunReport, load_report
from reports.errors import ReportError
from reports.schema import RawReport
from reports.validate import parse_timestamp


def good_report() -> RawReport:
    report = RunReport(
        distro="k3s",
        mode="provisioned",
        release="4.0",
        image_source="upstream",
        run_id="20261126T153824Z-3f9a",
        tool_version="0.1.0",
        host={"hostname": "ci", "ci": True, "platform": "Linux", "python": "3.11.7"},
    )
    report.record_check(check_id="a", name="pod-healthy", nodeid="t::a", outcome="passed", duration_s=0.4)
    report.fail("product", "checks", "core-data answered 503")
    return report.to_dict()


def write_json(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))
    return path


def test_load_report_returns_a_valid_report(tmp_path: Path) -> None:
    data = good_report()
    assert load_report(write_json(tmp_path, data)) == data


def test_load_report_accepts_unknown_extra_keys(tmp_path: Path) -> None:
    data: dict[str, Any] = dict(good_report())
    data["comment"] = "added by hand"
    load_report(write_json(tmp_path, data))


def test_a_version_2_skipped_check_is_read_as_not_run(tmp_path: Path) -> None:
    data: dict[str, Any] = json.loads(json.dumps(good_report()))
    data["schema_version"] = 2
    data["checks"][0]["outcome"] = "skipped"
    assert load_report(write_json(tmp_path, data))["checks"][0]["outcome"] == "not-run"


def test_a_check_written_before_its_end_was_stamped_reads_with_no_end(tmp_path: Path) -> None:
    data: dict[str, Any] = json.loads(json.dumps(good_report()))
    del data["checks"][0]["ended_s"]
    assert load_report(write_json(tmp_path, data))["checks"][0]["ended_s"] is None


def edit(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(good_report()))
    change(data)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "the top level is list, not an object"),
        ({"hello": "world"}, "schema_version is missing; this is not an edgex-smoke report"),
        (
            edit(lambda d: d.update(schema_version=0)),
            "schema_version is 0, this edgex-smoke reads version 3; re-run the smoke test to write a new one",
        ),
        (edit(lambda d: d.update(schema_version=4)), "schema_version is 4, this edgex-smoke reads version 3; upgrade"),
        (
            edit(lambda d: d.update(root_cause={"component": "core-data"})),
            "root_cause.problem is missing",
        ),
        (edit(lambda d: d.update(schema_version="1")), "schema_version is '1'; expected an integer"),
        (edit(lambda d: d.pop("checks")), "checks is missing"),
        (edit(lambda d: d["target"].pop("distro")), "target.distro is missing"),
        (edit(lambda d: d.update(outcome="green")), "outcome is 'green'; expected one of: passed, failed, infra-error"),
        (edit(lambda d: d["checks"][0].update(outcome="xfail")), "checks[0].outcome is 'xfail'; expected one of"),
        (edit(lambda d: d["checks"][0].update(duration_s="fast")), "checks[0].duration_s is 'fast'; expected a finite"),
        (edit(lambda d: d["phases"].update(ready=True)), "phases.ready is True; expected a finite number or null"),
        (edit(lambda d: d["host"].update(ci="yes")), "host.ci is 'yes'; expected true or false"),
        (edit(lambda d: d["error"].pop("kind")), "error.kind is missing"),
        (edit(lambda d: d.update(error="boom")), "error is 'boom'; expected an object or null"),
        (edit(lambda d: d["edgex"]["versions"].update({"core-data": 4})), "edgex.versions.core-data is 4; expected"),
        (edit(lambda d: d["target"]["fingerprint"].update(x={"a": 1})), "target.fingerprint.x is {'a': 1}; expected"),
        (edit(lambda d: d.update(finished_at="yesterday")), "finished_at: 'yesterday' is not an ISO-8601 time"),
        (edit(lambda d: d.update(started_at="2026-11-26T15:38:24")), "started_at: '2026-11-26T15:38:24' is not an"),
    ],
)
def test_load_report_names_the_file_and_the_bad_value(tmp_path: Path, data: object, message: str) -> None:
    path = write_json(tmp_path, data)
    with pytest.raises(ReportError) as caught:
        load_report(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: {message}")
    assert "\n" not in text


def test_load_report_explains_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(good_report())[:200])
    with pytest.raises(ReportError, match=r"cut\.json: not valid JSON \(.* at line 1 column \d+\); was the file cut"):
        load_report(path)


def test_load_report_explains_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"nope\.json: cannot read the report: No such file or directory"):
        load_report(tmp_path / "nope.json")


def test_load_report_explains_a_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.json"
    path.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(ReportError, match=r"junk\.json: not UTF-8 text"):
        load_report(path)


def test_parse_timestamp_accepts_z_and_offsets() -> None:
    assert parse_timestamp("2026-11-26T15:38:24Z") == parse_timestamp("2026-11-26T16:38:24+01:00")
