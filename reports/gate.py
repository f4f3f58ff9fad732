"""The CI gate: the one report a smoke run wrote says what CI expected, on real EdgeX.

CI gives every smoke run a report directory of its own and then asks the gate about that directory:
never "the newest report somewhere", which could be an earlier run's.
"""

from __future__ import annotations

from pathlib import Path

from harness.vocabulary import OUTCOME_EXIT_CODES
from reports import describe
from reports.errors import ReportError
from reports.files import load_report
from reports.schema import RawReport, RunOutcome


def _one_report(directory: Path) -> tuple[Path, RawReport]:
    if not directory.is_dir():
        raise ReportError(f"{directory}: no such report directory; give the --report-dir the smoke run used")
    found = sorted(directory.glob("*.json"))
    if len(found) != 1:
        names = ", ".join(path.name for path in found) or "none"
        raise ReportError(
            f"{directory}: holds {len(found)} reports ({names}), not the one this run should have written; "
            "give every run a fresh --report-dir"
        )
    return found[0], load_report(found[0])


def check(
    directory: Path, *, distro: str, status: int, expect: RunOutcome, real_edgex: bool, security: str | None = None
) -> str:
    """Return a one-line verdict if the run's report meets the expectation; raise `ReportError` if not.

    Args:
        directory: The report directory of exactly one run.
        distro: The distro the run was asked to test.
        status: The run's exit status; it must be the one that goes with the report's outcome.
        expect: The outcome CI requires.
        real_edgex: Require EdgeX services to have answered with their versions, and none to be the test double.
        security: Require the run's security mode (``on``: the report must be of a secure run); any when None.
    """
    path, report = _one_report(directory)
    subject = f"{path} ({report['target']['distro']})"
    if report["target"]["distro"] != distro:
        raise ReportError(f"{subject}: the report is for {report['target']['distro']!r}, not {distro!r}")
    if security is not None and report["edgex"]["security"] != security:
        raise ReportError(f"{subject}: the run's security was {report['edgex']['security']!r}, not {security!r}")
    expected_status = OUTCOME_EXIT_CODES[report["outcome"]]
    if status != expected_status:
        raise ReportError(
            f"{subject}: exit status {status} does not match outcome {report['outcome']!r}, "
            f"which exits {int(expected_status)}; the run failed after its report (see its last line)"
        )
    if report["outcome"] != expect:
        raise ReportError(f"{subject}: expected {expect}, got {describe.status(report)}")
    versions = report["edgex"]["versions"]
    if real_edgex:
        if describe.is_test_double(report):
            raise ReportError(f"{subject}: ran the harness's EdgeX test double, never evidence of EdgeX")
        if not versions:
            raise ReportError(f"{subject}: no EdgeX service reported its version; EdgeX never answered")
        unproven = describe.unproven_images(report)
        if unproven:
            raise ReportError(
                f"{subject}: local images without the lab's build label: {', '.join(unproven)}; "
                "build them with 'make lab-images', or run upstream images"
            )
    released = ", ".join(sorted(set(versions.values()))) or "no EdgeX version"
    mode = " (secure)" if report["edgex"]["security"] == "on" else ""
    return f"{report['target']['distro']}{mode}: {describe.status(report)} on EdgeX {released} ({path.name})"
