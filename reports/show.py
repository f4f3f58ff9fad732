"""A short plain-text summary of one report, for ``python -m reports show``."""

from __future__ import annotations

from pathlib import Path

from reports import describe
from reports.schema import RawReport


def summary(report: RawReport, path: Path) -> str:
    """Return a few lines: verdict, run, target, EdgeX, error, one line per check, phase timings."""
    target, edgex, error = report["target"], report["edgex"], report["error"]
    lines = [
        f"{target['distro']}, EdgeX {edgex['release']}: {describe.status(report)}",
        f"  run {report['run_id']} from {report['started_at']} to {report['finished_at']} "
        f"on {describe.ran_on(report)} ({path})",
        f"  target: {target['mode']}; {describe.fingerprint(report)}",
        f"  edgex: reported {describe.edgex_versions(report)}; images {edgex['image_source']}; "
        f"security {edgex['security']}",
    ]
    cause = report.get("root_cause")
    if cause is not None:
        lines.append(f"  root cause: {cause['component']}: {cause['problem']}")
        lines += [f"    evidence: {line}" for line in cause["evidence"]]
        if cause["blocked"]:
            lines.append(f"    blocked checks: {', '.join(cause['blocked'])}")
    if error is not None:
        lines.append(f"  error ({error['kind']}, during {error['phase']}): {error['message']}")
    if report["outcome"] == "interrupted":
        lines.append(f"  interrupted during: {report['interrupted_phase'] or describe.UNKNOWN}")
    for check in report["checks"]:
        reason = f"  {check['reason']}" if check["reason"] else ""
        lines.append(
            f"  {describe.CHECK_ICONS[check['outcome']]} {check['id']} {check['name']} "
            f"{describe.seconds(check['duration_s'])}{reason}"
        )
    lines.append("  phases: " + ", ".join(f"{name} {value}" for name, value in describe.phases(report)))
    return "\n".join(lines) + "\n"
