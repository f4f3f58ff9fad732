"""Short human descriptions of one report, shared by the table and ``show``.

Everything here only restates what the report contains; a missing fact reads
"unknown" or "—", never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC

from harness.labels import IMAGE_PIN, IMAGE_TEST_DOUBLE
from reports.outcome import BAD_CHECK_OUTCOMES
from reports.schema import PHASES, FingerprintValue, RawCheck, RawReport
from reports.validate import parse_timestamp

STATUS_ICONS = {"passed": "✅", "failed": "❌", "infra-error": "⚠️", "interrupted": "⏹"}
CHECK_ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "not-run": "⏭", "blocked": "⛔"}
NOT_RUN = "not yet run"
UNKNOWN = "unknown"
NONE = "—"

TEST_DOUBLE_MARK = "edgex-smoke-double"
"""In the version every service of the harness's EdgeX test double reports (tests/edgex_double)."""

# Fingerprint keys that name the Kubernetes server version, whatever the driver calls them.
_KUBERNETES_KEYS = frozenset({"kubernetes_version", "k8s_version", "server_version"})
_NUMERIC_RELEASE = re.compile(r"\d+(\.\d+)*")


def version_key(text: str) -> tuple[tuple[int, str], ...]:
    """Sort key that orders ``4.0`` before ``4.10`` and keeps non-numeric parts in text order."""
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.\-+]", text))


def seconds(value: float | None) -> str:
    """Format a duration, ``—`` for null."""
    return NONE if value is None else f"{value:.1f} s"


def counts(checks: Iterable[RawCheck]) -> dict[str, int]:
    """Count checks per outcome, every outcome present."""
    tally = dict.fromkeys(CHECK_ICONS, 0)
    for check in checks:
        tally[check["outcome"]] += 1
    return tally


def shorten(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_test_double(report: RawReport) -> bool:
    """Whether the run was on the harness's EdgeX test double, which proves the harness and never EdgeX.

    Told by the label its images were built with, not only by the version its services answer, which
    any program can claim.
    """
    if any(image["labels"].get(IMAGE_TEST_DOUBLE) == "true" for image in report["edgex"]["images"]):
        return True
    return any(TEST_DOUBLE_MARK in version for version in report["edgex"]["versions"].values())


def unproven_images(report: RawReport) -> list[str]:
    """EdgeX service images of the run that are neither lab builds (by their pin label) nor upstream references.

    A ``localhost/`` image without the lab's pin label was built by something else, which can answer
    any version string; only the lab's build (lab/) and upstream's registries are sources of EdgeX.
    """
    services = set(report["edgex"]["versions"])
    return [
        f"{image['component']} ({image['ref']})"
        for image in report["edgex"]["images"]
        if image["component"] in services
        and image["ref"].startswith("localhost/")
        and not image["labels"].get(IMAGE_PIN, "").startswith("github.com/edgexfoundry/")
    ]


def status(report: RawReport, *, message_chars: int = 300) -> str:
    """One line such as ``✅ passed 7/7`` or ``⚠️ infra-error (ready): …``; see `reports.outcome`."""
    if is_test_double(report):
        return "🧪 test double, not EdgeX: " + _status(report, message_chars).split(" ", 1)[1]
    return _status(report, message_chars)


def root_cause(report: RawReport) -> str | None:
    """``core-data: exited, exit code 1, 2 restart(s); blocked a, b, …`` or None (version 1, or no root cause)."""
    cause = report.get("root_cause")
    if cause is None:
        return None
    blocked = f"; blocked {', '.join(cause['blocked'])}" if cause["blocked"] else ""
    return f"{cause['component']}: {cause['problem']}{blocked}"


def _status(report: RawReport, message_chars: int) -> str:
    cause = root_cause(report)
    if cause is not None and report["outcome"] != "passed":
        error = report["error"]
        during = f" ({error['phase']})" if error is not None else ""
        return (
            f"{STATUS_ICONS[report['outcome']]} {report['outcome']}{during}, root cause {shorten(cause, message_chars)}"
        )
    return _plain_status(report, message_chars)


def _plain_status(report: RawReport, message_chars: int) -> str:
    outcome, error = report["outcome"], report["error"]
    tally = counts(report["checks"])
    ran = tally["passed"] + tally["failed"] + tally["error"] + tally["not-run"]
    score = f"{tally['passed']}/{ran}"
    icon = STATUS_ICONS[outcome]
    if outcome == "passed":
        return f"{icon} passed {score}"
    if outcome == "infra-error" and error is not None:
        return f"{icon} infra-error ({error['phase']}): {shorten(error['message'], message_chars)}"
    if outcome == "interrupted":
        where = report["interrupted_phase"]
        return f"{icon} interrupted" + (f" ({where})" if where else "") + (f", {score} passed before" if ran else "")
    failing = [
        check["id"] + (" (not run)" if check["outcome"] == "not-run" else "")
        for check in report["checks"]
        if check["outcome"] in BAD_CHECK_OUTCOMES
    ]
    if failing:
        return f"{icon} failed {score}: {', '.join(dict.fromkeys(failing))}"
    if error is not None:
        return f"{icon} failed ({error['phase']}): {shorten(error['message'], message_chars)}"
    return f"{icon} failed: no check ran"


def finished_date(report: RawReport) -> str:
    """The UTC date the run finished, ``2026-11-26``."""
    return parse_timestamp(report["finished_at"]).astimezone(UTC).date().isoformat()


def edgex_versions(report: RawReport) -> str:
    """The versions EdgeX itself reported, ``unknown`` if none, flagged if off the release under test."""
    found = sorted(set(report["edgex"]["versions"].values()), key=version_key)
    if not found:
        return UNKNOWN
    release = report["edgex"]["release"]
    text = ", ".join(found)
    if _NUMERIC_RELEASE.fullmatch(release) and any(v != release and not v.startswith(release + ".") for v in found):
        text += f" ⚠️ not {release}"
    return text


def _fact(value: FingerprintValue) -> str:
    if isinstance(value, list):
        return ", ".join(value)
    return "null" if value is None else str(value)


def target_versions(report: RawReport) -> str:
    """Versions from the fingerprint, e.g. ``podman 4.3.1 / Kubernetes v1.34.4+k3s1``; ``unknown`` if none."""
    parts = []
    for key, value in report["target"]["fingerprint"].items():
        if not key.endswith("_version") or value is None:
            continue
        label = "Kubernetes" if key in _KUBERNETES_KEYS else key.removesuffix("_version")
        parts.append(f"{label} {_fact(value)}")
    return " / ".join(parts) or UNKNOWN


def fingerprint(report: RawReport) -> str:
    """Every fingerprint fact as ``key: value`` pairs, ``—`` if none."""
    facts = report["target"]["fingerprint"]
    return "; ".join(f"{key}: {_fact(value)}" for key, value in facts.items()) or NONE


def ran_on(report: RawReport) -> str:
    """``CI`` or the hostname."""
    return "CI" if report["host"]["ci"] else report["host"]["hostname"]


def phases(report: RawReport) -> list[tuple[str, str]]:
    """Every phase with its formatted duration, in run order, total last."""
    timed = report["phases"]
    return [(name, seconds(timed[name])) for name in PHASES] + [("total", seconds(timed["total"]))]
