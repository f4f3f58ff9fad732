"""`RunReport`: the mutable report the pytest plugin fills during one run.

The plugin creates one `RunReport` when the run starts, times stages with
`phase` (or `start_phase`/`end_phase`), records every check, and at the end
calls `write`, which scrubs, checks and atomically writes ``<run_id>.json``.
`to_dict` can be called at any time; it decides the outcome by
`reports.outcome.decide` from what was recorded, never from what was hoped.
"""

from __future__ import annotations

import copy
import importlib.metadata
import os
import platform
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

from harness.vocabulary import ErrorKind, TargetMode
from reports import outcome, schema
from reports.errors import ReportError
from reports.files import load_report, write_report
from reports.schema import (
    CheckOutcome,
    FingerprintValue,
    PhaseName,
    RawArtifacts,
    RawCheck,
    RawEdgex,
    RawError,
    RawHost,
    RawImage,
    RawPhases,
    RawReport,
    RawRootCause,
    RawTarget,
    RawTool,
    Security,
)

__all__ = ["RunReport", "host_info", "load_report", "new_run_id", "one_line", "utc_stamp", "write_report"]

TOOL_NAME = "edgex-smoke"
MESSAGE_CHARS = 300
"""Longest reason or error message kept; the whole text belongs in the JUnit file and diagnostics."""

_CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "JENKINS_URL")
_COMMIT_VARIABLES = ("GITHUB_SHA", "CI_COMMIT_SHA", "BUILDKITE_COMMIT", "GIT_COMMIT")
# For check records of one pytest item: the worse outcome wins (a teardown error after a pass is an error).
_SEVERITY: dict[str, int] = {"passed": 0, "not-run": 1, "failed": 2, "error": 2, "blocked": 2}


def utc_stamp(moment: datetime) -> str:
    """Format `moment` as the report's timestamp, ``2026-11-26T15:38:24Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id(moment: datetime | None = None) -> str:
    """Return a run id such as ``20261126T153824Z-3f9a``: sortable by time, unique enough per host.

    It contains capitals; lower-case it for Kubernetes names (namespaces must be RFC 1123 labels).
    """
    moment = moment or datetime.now(UTC)
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def one_line(text: str, limit: int = MESSAGE_CHARS) -> str:
    """Return `text` on one line, cut to `limit` characters keeping the start (where the cause usually is)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def host_info() -> RawHost:
    """Describe the machine running pytest: hostname, whether it is CI, OS and Python versions."""
    return {
        "hostname": socket.gethostname(),
        "ci": any(os.environ.get(name, "").lower() not in ("", "0", "false", "no") for name in _CI_VARIABLES),
        "platform": f"{platform.system()}-{platform.release()}-{platform.machine()}",
        "python": platform.python_version(),
    }


def _tool_version() -> str:
    try:
        return importlib.metadata.version(TOOL_NAME)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"  # running from a source tree that was never pip-installed


def _git_commit_from_env() -> str | None:
    return next((os.environ[name] for name in _COMMIT_VARIABLES if os.environ.get(name)), None)


def _one_of(value: str, allowed: Any, what: str) -> None:
    choices = get_args(allowed)
    if value not in choices:
        raise ReportError(f"{what} {value!r} is unknown; choose one of: {', '.join(choices)}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RunReport:
    """Everything one run learns, turned into a `RawReport` by `to_dict`.

    Args:
        distro: Distribution name, as given to ``--distro``.
        mode: ``embedded``, ``provisioned`` or ``attached``.
        release: EdgeX release under test, such as ``4.0``.
        image_source: ``lab``, ``upstream`` or a registry prefix.
        security: EdgeX security mode, ``off`` or ``on``.
        run_id: Defaults to `new_run_id` at creation.
        git_commit: Commit of edgex-smoke; defaults to ``GITHUB_SHA`` and the like, else null.
        tool_version: Defaults to the installed edgex-smoke version, else ``unknown``.
        host: Defaults to `host_info`.
        clock: Wall clock for ``*_at`` (tests pass a fake).
        monotonic: Clock for durations (tests pass a fake).
    """

    def __init__(
        self,
        *,
        distro: str,
        mode: TargetMode,
        release: str,
        image_source: str,
        security: Security = "off",
        run_id: str | None = None,
        git_commit: str | None = None,
        tool_version: str | None = None,
        host: RawHost | None = None,
        clock: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        _one_of(mode, TargetMode, "mode")
        _one_of(security, Security, "security")
        self._clock = clock
        self._monotonic = monotonic
        started = clock()
        self._t0 = monotonic()
        self.run_id = run_id or new_run_id(started)
        self.started_at = utc_stamp(started)
        self._finished_at: str | None = None
        self._total_s: float | None = None
        self._tool: RawTool = {
            "name": TOOL_NAME,
            "version": tool_version or _tool_version(),
            "git_commit": git_commit or _git_commit_from_env(),
        }
        self._host: RawHost = host.copy() if host is not None else host_info()
        self._target: RawTarget = {"distro": distro, "mode": mode, "fingerprint": {}}
        self._edgex: RawEdgex = {
            "release": release,
            "security": security,
            "image_source": image_source,
            "images": [],
            "versions": {},
        }
        self._running: dict[PhaseName, float] = {}
        self._phases: dict[PhaseName, float] = {}
        self._checks: dict[str, RawCheck] = {}  # by nodeid, in the order first recorded
        self._error: RawError | None = None
        self._interrupted = False
        self._interrupted_phase: PhaseName | None = None
        self._reaped: list[str] = []
        self._artifacts: RawArtifacts = {"junit": None, "diagnostics": None}
        self._root_cause: tuple[str, str, list[str]] | None = None

    # --- phases -------------------------------------------------------------------------------

    def start_phase(self, name: PhaseName) -> None:
        """Start timing stage `name`; each stage is timed once per run."""
        _one_of(name, PhaseName, "phase")
        if name in self._running or name in self._phases:
            raise ReportError(f"phase {name!r} was already started; each phase is timed once per run")
        self._running[name] = self._monotonic()

    def end_phase(self, name: PhaseName) -> float:
        """Stop timing stage `name` and return its duration in seconds."""
        if name not in self._running:
            raise ReportError(f"phase {name!r} was never started; call start_phase({name!r}) first")
        duration_s = round(self._monotonic() - self._running.pop(name), 3)
        self._phases[name] = duration_s
        return duration_s

    @contextmanager
    def phase(self, name: PhaseName) -> Iterator[None]:
        """Time stage `name` around a block.

        The duration is recorded only if the block completes; a stage left by an
        exception stays ``null`` ("never completed"), and `current_phase` keeps
        naming it so that `fail` and `mark_interrupted` can default to it.
        """
        self.start_phase(name)
        yield
        self.end_phase(name)

    def record_phase(self, name: PhaseName, duration_s: float) -> None:
        """Record a stage measured elsewhere, such as the time to the first EdgeX event."""
        _one_of(name, PhaseName, "phase")
        if name in self._running or name in self._phases:
            raise ReportError(f"phase {name!r} was already started; each phase is timed once per run")
        if duration_s < 0:
            raise ReportError(f"phase {name!r} duration {duration_s} s is negative")
        self._phases[name] = round(duration_s, 3)

    def current_phase(self) -> PhaseName | None:
        """Return the stage started most recently and not ended, if any."""
        return next(reversed(self._running), None)

    # --- what happened ------------------------------------------------------------------------

    def record_check(
        self,
        *,
        check_id: str,
        name: str,
        nodeid: str,
        outcome: CheckOutcome,
        duration_s: float,
        reason: str = "",
        kind: ErrorKind | None = None,
    ) -> None:
        """Record the outcome of one check (one pytest item).

        Recording the same `nodeid` again (pytest's setup, call and teardown
        reports) folds into one entry: durations add up and the worse outcome,
        with its reason and kind, wins; between ``failed`` and ``error`` the first wins.

        Args:
            check_id: Short stable id shown in the table, such as ``a``.
            name: Short stable name, such as ``pod-healthy``.
            nodeid: The pytest node id.
            outcome: ``passed``, ``failed``, ``error``, ``not-run`` (a skip) or ``blocked`` (by the root cause).
            duration_s: Seconds spent.
            reason: Why it failed or could not run; cut to one line.
            kind: For a failure, whether the product or the infrastructure failed.
        """
        _one_of(outcome, CheckOutcome, "check outcome")
        if kind is not None:
            _one_of(kind, ErrorKind, "error kind")
        new: RawCheck = {
            "id": check_id,
            "name": name,
            "nodeid": nodeid,
            "outcome": outcome,
            "reason": one_line(reason),
            "duration_s": round(max(duration_s, 0.0), 3),
            "kind": kind,
            "ended_s": round(self._monotonic() - self._t0, 3),
        }
        old = self._checks.get(nodeid)
        if old is not None:
            total_s = round(old["duration_s"] + new["duration_s"], 3)
            ended_s = new["ended_s"]
            if _SEVERITY[new["outcome"]] <= _SEVERITY[old["outcome"]]:
                new = old
            new = {**new, "duration_s": total_s, "ended_s": ended_s}
        self._checks[nodeid] = new

    def set_mode(self, mode: TargetMode) -> None:
        """Record how the target was obtained, once the driver knows it."""
        _one_of(mode, TargetMode, "mode")
        self._target["mode"] = mode

    def set_image_source(self, image_source: str) -> None:
        """Record the image source actually used (``auto`` resolves to ``upstream`` or ``lab``)."""
        self._edgex["image_source"] = image_source

    def set_fingerprint(self, facts: Mapping[str, FingerprintValue]) -> None:
        """Add facts about the target; keys ending in ``_version`` appear in the matrix."""
        self._target["fingerprint"].update(copy.deepcopy(dict(facts)))

    def set_images(self, images: Iterable[RawImage]) -> None:
        """Record the images the deployment used, replacing any recorded before."""
        self._edgex["images"] = [image.copy() for image in images]

    def set_version(self, component: str, version: str) -> None:
        """Record the version `component` reported through ``/api/v3/version``."""
        self._edgex["versions"][component] = version

    def fail(self, kind: ErrorKind, phase: PhaseName, message: str) -> None:
        """Record an error outside any check; the first one wins because later ones are usually its fallout.

        Args:
            kind: ``infra`` if the target or deployment never came up (the run
                becomes ``infra-error``), ``product`` if EdgeX misbehaved.
            phase: The stage that failed.
            message: One line: subject, problem, bad value, fix.
        """
        _one_of(kind, ErrorKind, "error kind")
        _one_of(phase, PhaseName, "phase")
        if self._error is None:
            self._error = {"kind": kind, "phase": phase, "message": one_line(message)}

    def set_root_cause(self, component: str, problem: str, evidence: Iterable[str]) -> None:
        """Name the component a failed start is blamed on; the first one wins, like `fail`."""
        if self._root_cause is None:
            self._root_cause = (one_line(component), one_line(problem), [one_line(line) for line in evidence])

    def mark_interrupted(self, phase: PhaseName | None = None) -> None:
        """Record that a signal stopped the run, in `phase` (default: `current_phase`)."""
        if phase is not None:
            _one_of(phase, PhaseName, "phase")
        self._interrupted = True
        self._interrupted_phase = phase or self.current_phase()

    def add_reaped(self, names: Iterable[str]) -> None:
        """Record leftovers of earlier runs that this run deleted."""
        self._reaped.extend(names)

    def set_artifacts(self, *, junit: str | None = None, diagnostics: str | None = None) -> None:
        """Record files written next to the report, as names relative to its directory."""
        if junit is not None:
            self._artifacts["junit"] = junit
        if diagnostics is not None:
            self._artifacts["diagnostics"] = diagnostics

    # --- the result ---------------------------------------------------------------------------

    @property
    def error(self) -> RawError | None:
        """The first error recorded outside a check."""
        return None if self._error is None else self._error.copy()

    def finish(self) -> None:
        """Stamp the finish time and total duration; later calls change nothing."""
        if self._finished_at is None:
            self._finished_at = utc_stamp(self._clock())
            self._total_s = round(self._monotonic() - self._t0, 3)

    def to_dict(self) -> RawReport:
        """Return the report as plain JSON-ready data, with the outcome decided.

        Before `finish`, the finish time and total are those of this moment and are not kept.
        """
        finished_at = self._finished_at or utc_stamp(self._clock())
        total_s = self._total_s if self._total_s is not None else round(self._monotonic() - self._t0, 3)
        checks = [check.copy() for check in self._checks.values()]
        phases: RawPhases = {
            "provision": self._phases.get("provision"),
            "apply": self._phases.get("apply"),
            "ready": self._phases.get("ready"),
            "first_event": self._phases.get("first_event"),
            "checks": self._phases.get("checks"),
            "teardown": self._phases.get("teardown"),
            "total": total_s,
        }
        return {
            "schema_version": schema.SCHEMA_VERSION,
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": finished_at,
            "tool": self._tool.copy(),
            "host": self._host.copy(),
            "target": copy.deepcopy(self._target),
            "edgex": copy.deepcopy(self._edgex),
            "phases": phases,
            "outcome": outcome.decide(error=self._error, interrupted=self._interrupted, checks=checks),
            "error": self.error,
            "interrupted_phase": self._interrupted_phase if self._interrupted else None,
            "checks": checks,
            "reaped": list(self._reaped),
            "artifacts": self._artifacts.copy(),
            "root_cause": self._root_cause_dict(checks),
        }

    def _root_cause_dict(self, checks: list[RawCheck]) -> RawRootCause | None:
        if self._root_cause is None:
            return None
        component, problem, evidence = self._root_cause
        blocked = sorted({check["id"] for check in checks if check["outcome"] == "blocked"})
        return {"component": component, "problem": problem, "evidence": list(evidence), "blocked": blocked}

    def write(self, directory: Path | str) -> Path:
        """`finish` the report, then write it with `write_report`; returns the file path."""
        self.finish()
        return write_report(self.to_dict(), directory)
