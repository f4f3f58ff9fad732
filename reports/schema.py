"""The JSON shape of one smoke-test report, one file per pytest run.

The TypedDicts here are the single source of truth: `reports.validate` walks
their annotations to check a file, so a field added here is checked there too.
Bump `SCHEMA_VERSION` when a field is renamed, removed or changes meaning;
`load_report` refuses files written with another version.

Conventions: times are UTC ISO-8601 strings ending in ``Z`` (``*_at``);
durations are seconds (``*_s`` and every value of `RawPhases`); ``null`` means
"never reached" or "not known", never "zero".
"""

from __future__ import annotations

from typing import Final, Literal, TypedDict

from harness.vocabulary import ErrorKind, TargetMode

SCHEMA_VERSION: Final = 3
"""2 added ``root_cause`` and the ``blocked`` check outcome; 3 renamed ``skipped`` to ``not-run``, which fails a
run, and added each image's provenance ``labels``."""
READABLE_VERSIONS: Final = (1, 2, 3)
"""Versions this edgex-smoke reads: older reports are read as version 3 (`reports.validate` upgrades them)."""

RunOutcome = Literal["passed", "failed", "infra-error", "interrupted"]
"""Verdict of a whole run; decided by `reports.outcome.decide`."""

CheckOutcome = Literal["passed", "failed", "error", "not-run", "blocked"]
"""Outcome of one check (one pytest item): ``not-run``, the check could not run here (pytest's skip, with
its reason); ``blocked``, EdgeX never came up (see ``root_cause``). Both keep a run from passing."""

Security = Literal["off", "on"]

PhaseName = Literal["provision", "apply", "ready", "first_event", "checks", "teardown"]
"""Stages of a run, timed in `RawPhases` and named by errors and interruptions."""

PHASES: Final[tuple[PhaseName, ...]] = ("provision", "apply", "ready", "first_event", "checks", "teardown")

FingerprintValue = str | int | float | bool | list[str] | None
"""Free-form facts about the target: versions, runtimes, cgroup mode, node count."""


class RawTool(TypedDict):
    """The harness that wrote the report."""

    name: str
    version: str
    git_commit: str | None


class RawHost(TypedDict):
    """The machine that ran pytest (not the cluster nodes)."""

    hostname: str
    ci: bool
    platform: str
    python: str


class RawTarget(TypedDict):
    """The distribution under test.

    Keys of ``fingerprint`` ending in ``_version`` are shown in the matrix
    (``podman_version`` → "podman 4.3.1", ``kubernetes_version`` → "Kubernetes
    v1.34.4+k3s1"); every key is listed in the details.
    """

    distro: str
    mode: TargetMode
    fingerprint: dict[str, FingerprintValue]


class RawImage(TypedDict):
    """One container image the deployment used."""

    component: str
    ref: str
    digest: str | None
    labels: dict[str, str]
    """The image's provenance labels (`harness.labels.PROVENANCE_LABELS`) in this host's image store; empty
    when the image is not there (pulled by a remote node) or carries none (upstream images)."""


class RawEdgex(TypedDict):
    """The EdgeX deployment: what was asked for and what answered.

    ``versions`` maps a component to the version its ``/api/v3/version``
    returned; it stays empty unless a check filled it.
    """

    release: str
    security: Security
    image_source: str
    images: list[RawImage]
    versions: dict[str, str]


class RawPhases(TypedDict):
    """Seconds spent in each stage; ``null`` if the stage never completed or was not timed."""

    provision: float | None
    apply: float | None
    ready: float | None
    first_event: float | None
    checks: float | None
    teardown: float | None
    total: float | None


class RawError(TypedDict):
    """The first error that stopped the run outside a check."""

    kind: ErrorKind
    phase: PhaseName
    message: str


class RawRootCause(TypedDict):
    """The one component a failed run is blamed on, what showed it, and the checks it kept from running."""

    component: str
    problem: str
    evidence: list[str]
    blocked: list[str]
    """Ids of the checks that could not run because of it (``a``, ``b``, …), each once."""


class RawCheck(TypedDict):
    """One check, that is one pytest item, with every pytest phase folded in."""

    id: str
    name: str
    nodeid: str
    outcome: CheckOutcome
    reason: str
    duration_s: float
    kind: ErrorKind | None
    ended_s: float | None
    """Seconds from the run's start to the check's end: the checks' timeline, from which the benchmark reads
    when the slowest EdgeX wait was over. ``null`` in reports written before it was added (2026-12-02)."""


class RawArtifacts(TypedDict):
    """Files written next to the report, as names relative to the report's directory."""

    junit: str | None
    diagnostics: str | None


class _RawReportV1(TypedDict):
    """The keys every report has (version 1 had exactly these)."""

    schema_version: int
    run_id: str
    started_at: str
    finished_at: str
    tool: RawTool
    host: RawHost
    target: RawTarget
    edgex: RawEdgex
    phases: RawPhases
    outcome: RunOutcome
    error: RawError | None
    interrupted_phase: PhaseName | None
    checks: list[RawCheck]
    reaped: list[str]
    artifacts: RawArtifacts


class RawReport(_RawReportV1, total=False):
    """One pytest run against one distro and one EdgeX release."""

    root_cause: RawRootCause | None
    """Version 2: set when EdgeX did not come up; the component to blame and the checks it blocked."""
