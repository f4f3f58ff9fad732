"""The pytest plugin: options, the session's EdgeX, check recording and the report.

Loaded by the root ``conftest.py``. A run that collects only ``tests/`` (the
harness's own tests) registers nothing but the options; a smoke run (``suites/``)
also gets the `SmokeSession` that stands EdgeX up on first use and tears it down
at the end, even after Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from collections.abc import Generator
from contextlib import nullcontext
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import distros
import manifests
from edgex_smoke import options as opts
from edgex_smoke.lifecycle import LiveEdgeX, SmokeRun
from edgex_smoke.status import StatusLine
from harness.errors import DiagnosedError, InfraError, PreflightError, RootCause, SmokeError, tail
from harness.vocabulary import OUTCOME_EXIT_CODES, ErrorKind, ExitCode, TargetMode
from reports import table
from reports.errors import ReportError
from reports.schema import PhaseName
from reports.writer import RunReport

SESSION_KEY = pytest.StashKey["SmokeSession"]()
EVIDENCE_DIR = "docs/evidence"
FALLBACK_REPORT_DIR = Path(tempfile.gettempdir()) / "edgex-smoke-reports"
"""Where the report goes when ``--report-dir`` cannot take it (a full disk): a report is never lost silently."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the edgex-smoke options (`edgex_smoke.options.OPTIONS`) in one group."""
    opts.add_all(parser.getgroup("edgex", "edgex-smoke").addoption)


def _options(config: pytest.Config) -> opts.RunOptions:
    return opts.from_values({option.dest: config.getoption(option.dest) for option in opts.OPTIONS})


def _is_smoke_run(config: pytest.Config) -> bool:
    """True unless every path given on the command line lies inside ``tests/`` (the harness's own tests)."""
    tests_dir = (config.rootpath / "tests").resolve()
    paths = [(config.invocation_params.dir / str(arg).split("::")[0]).resolve() for arg in config.args]
    return not all(path == tests_dir or tests_dir in path.parents for path in paths)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Validate every option up front; set up the smoke session for smoke runs."""
    config.addinivalue_line("markers", "check(id, name): the smoke check this test implements, e.g. check('a', 'pod')")
    config.addinivalue_line(
        "markers", "last: runs after the other checks (it waits on EdgeX's clock or judges the run)"
    )
    try:
        run_options = _options(config)
    except opts.OptionError as err:
        raise pytest.UsageError(str(err)) from None
    if not _is_smoke_run(config) or config.option.collectonly or config.option.help:
        return
    session = SmokeSession(config, run_options)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "edgex-smoke-session")


class SmokeSession:
    """The per-run plugin object: owns the run, records checks, writes the report."""

    def __init__(self, config: pytest.Config, run_options: opts.RunOptions) -> None:
        self.config = config
        self.options = run_options
        self.status = self._status_line()
        image_source = run_options.images
        self.report = RunReport(
            distro=run_options.distro,
            mode=_initial_mode(run_options),
            release=run_options.release,
            image_source=image_source,
            security=run_options.security,  # type: ignore[arg-type]  # validated: one of SECURITY_MODES
        )
        self.run = SmokeRun(run_options, self.report, self.status)
        self.live: LiveEdgeX | None = None
        self.setup_error: SmokeError | None = None
        self.started = False
        self.stopped_at_preflight = False
        self.interrupted = False
        self.any_failed = False
        self.report_path: Path | None = None
        self.finish_problems: list[str] = []
        """What went wrong after the checks (teardown, JUnit, report): each makes the run an infra error."""
        self._error_shown = False
        self._setup_crash: Exception | None = None
        self._checks_started: float | None = None
        self._checks_total = 0
        self._checks_done = 0
        self._checks: dict[str, tuple[str, str]] = {}
        self._previous_sigterm: Any = None
        _require_writable_dir(run_options.report_dir)
        self.junit = _AtomicJUnit.claim(config, run_options.report_dir, self.report.run_id)

    def _status_line(self) -> StatusLine:
        # The terminal reporter registers after this plugin configures, so look it up at each write.
        def terminal() -> tuple[Any, Any]:
            plugins = self.config.pluginmanager
            return plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")

        def write(text: str, *, rewrite: bool) -> None:
            reporter, capture = terminal()
            # Phases run inside fixture setup, where pytest captures output: step around the capture,
            # as pytest's live logging does, and flush so piped CI logs show the line at once.
            with capture.global_and_fixture_disabled() if capture else nullcontext():
                if reporter is None:
                    print(text, flush=True)
                elif rewrite:
                    reporter.rewrite(text, erase=True)
                else:
                    reporter.write_line(text)
                if reporter is not None:
                    reporter.flush()

        is_tty = sys.stdout.isatty()
        return StatusLine(
            lambda text: write(text, rewrite=False),
            rewrite=(lambda text: write(text, rewrite=True)) if is_tty else None,
        )

    # -- signals -------------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Turn SIGTERM into KeyboardInterrupt so teardown runs as it does for Ctrl-C."""
        self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Remember a real interruption (Ctrl-C, SIGTERM) and the phase it hit."""
        if type(excinfo.value) is not KeyboardInterrupt:
            return  # -x, --maxfail or pytest.exit: pytest stopping on purpose, not a signal
        self.interrupted = True
        phase: PhaseName = self.run.current_phase or "checks"
        self.report.mark_interrupted(phase)

    # -- the EdgeX under test -------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        """Stand EdgeX up before the first check; after a preflight stop no check runs at all.

        Any other setup error is recorded, and the checks then run as "blocked", the first one
        carrying the error, so the JUnit file shows what each check could not do.
        """
        if session.testsfailed or not any("edgex" in getattr(item, "fixturenames", ()) for item in session.items):
            return None  # collection errors, or no check needs EdgeX: pytest's own loop says so
        self.started = True
        try:
            self.live = self.run.start()
        except PreflightError as err:
            self._record_setup_error(err)
            self.stopped_at_preflight = True
            return True  # the loop is done: nothing was created, so there is nothing to check
        except SmokeError as err:
            self._record_setup_error(err)
        except Exception as err:  # a defect of the harness: the first check shows its traceback, the rest are blocked
            self._record_setup_error(
                InfraError(f"edgex-smoke: internal error standing EdgeX up: {tail(repr(err), 300)}")
            )
            self._setup_crash = err
        self._checks_started = time.monotonic()
        self._checks_total = len(session.items)
        self.status.phase("checks")
        if self.live is not None:
            self.live.bus.progress = self._show_wait
        return None

    def _show_wait(self, what: str, waited_s: float) -> None:
        self.status.update(f"{self._checks_done}/{self._checks_total} checks done; waiting {waited_s:.0f} s for {what}")

    def edgex(self) -> LiveEdgeX:
        """The EdgeX the run stood up; without it, the first check fails with the setup error, the rest as blocked."""
        if self.live is not None:
            return self.live
        if self.setup_error is None:
            pytest.fail("EdgeX was not started: the smoke session's loop did not run", pytrace=False)
        if not self._error_shown:
            self._error_shown = True
            if self._setup_crash is not None:
                raise self._setup_crash
            pytest.fail(str(self.setup_error), pytrace=False)
        cause = _root_cause_of(self.setup_error)
        pytest.fail(f"blocked by the root cause, {cause.component} (the first check's error says why)", pytrace=False)

    def _record_setup_error(self, err: SmokeError) -> None:
        self.setup_error = err
        phase: PhaseName = self.run.current_phase or "provision"
        self.report.fail(err.kind, phase, str(err))
        cause = _root_cause_of(err)
        self.report.set_root_cause(cause.component, cause.problem, cause.evidence)
        self.status.update(f"root cause: {cause.line()}")
        self.any_failed = True

    # -- checks ------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold pytest's setup, call and teardown reports into one check record."""
        if report.when != "call" and report.passed:
            return
        if report.when != "teardown":  # a check ends in its call, or in a setup that failed or skipped
            self._checks_done += 1
            if self._checks_started is not None:
                self.status.update(f"{self._checks_done}/{self._checks_total} checks done")
        if report.failed:
            self.any_failed = True
        outcome = "passed"
        if report.skipped:
            outcome = "not-run"  # its claim stays unproven, so the run cannot pass
        elif report.failed and report.when == "setup" and self.setup_error is not None:
            outcome = "blocked"  # EdgeX never came up: the check could not run
        elif report.failed:
            outcome = "failed" if report.when == "call" else "error"
        check_id, name = self._check_marker(report.nodeid)
        self.report.record_check(
            check_id=check_id,
            name=name,
            nodeid=report.nodeid,
            outcome=outcome,  # type: ignore[arg-type]  # one of the CheckOutcome literals
            duration_s=report.duration,
            reason=_reason(report),
            kind=self._failure_kind(report) if report.failed else None,
        )

    def _check_marker(self, nodeid: str) -> tuple[str, str]:
        return self._checks.get(nodeid, ("-", nodeid.rsplit("::", 1)[-1]))

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Remember each item's check id and name from its ``check`` marker."""
        for item in items:
            marker = item.get_closest_marker("check")
            if marker is not None:
                self._checks[item.nodeid] = (str(marker.args[0]), str(marker.args[1]))

    def _failure_kind(self, report: pytest.TestReport) -> ErrorKind:
        if report.when != "call" and self.setup_error is not None:
            return self.setup_error.kind
        return "product"

    # -- the end ------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Generator[None, None, None]:
        """After pytest's own teardown: diagnostics, cleanup, the JUnit file, the report and the exit status.

        Whatever fails on the way (the JUnit writer on a full disk, the teardown) is recorded and
        the rest still runs: the run is always finished and its report always written.
        """
        if self.live is not None and self._checks_started is not None:
            self.report.record_phase("checks", time.monotonic() - self._checks_started)
            first_event_s = self.run.first_event_s()
            self.status.done(
                f"first event {first_event_s:.1f} s after ready"
                if first_event_s is not None
                else "no fresh EdgeX event reached the gateway's MQTT route"
            )
        try:
            yield
        except Exception as err:  # pytest's JUnit writer (or another plugin's) failed: say so, finish anyway
            self.junit.discard()
            self.finish_problems.append(f"JUnit file not written: {type(err).__name__}: {tail(str(err), 300)}")
        try:
            if self.started:
                self.run.finish(failed=self.any_failed or self.interrupted)
        except SmokeError as err:
            self.report.fail("infra", "teardown", str(err))
        finally:
            signal.signal(signal.SIGTERM, self._previous_sigterm or signal.SIG_DFL)
            problem = self.junit.publish()
            if problem:
                self.finish_problems.append(problem)
            self._write_report()
            session.exitstatus = self._exit_status(session.exitstatus)

    def _exit_status(self, pytest_status: int | ExitCode) -> int:
        """The report's outcome as an `ExitCode`; pytest's own internal and usage errors stand."""
        if pytest_status in (ExitCode.INTERNAL_ERROR, ExitCode.OPTION_ERROR) or not self.started:
            return int(pytest_status)
        if self.finish_problems and not self.interrupted:
            return ExitCode.INFRA_ERROR
        return OUTCOME_EXIT_CODES[self.report.to_dict()["outcome"]]

    def _write_report(self) -> None:
        directory = self.options.report_dir
        diagnostics = self.run.diagnostics_dir
        self.report.set_artifacts(
            junit=self.junit.name if self.junit.published else None,
            diagnostics=str(diagnostics.relative_to(directory.resolve()))
            if diagnostics is not None and diagnostics.is_dir()
            else None,
        )
        self.status.phase("report")
        try:
            self.report_path = self.report.write(directory)
        except ReportError as err:
            try:
                self.report_path = self.report.write(FALLBACK_REPORT_DIR)
            except ReportError as fallback_err:
                self.finish_problems.append(f"report not written: {err}; nor to the fallback: {fallback_err}")
                self.status.done(self.finish_problems[-1])
                return
            self.finish_problems.append(f"report not written: {err}; report written to {self.report_path} instead")
            self.status.done(self.finish_problems[-1])
            return
        self.status.update(f"{self.report.to_dict()['outcome']}: {self.report_path}")
        self._write_table(directory)

    def _write_table(self, directory: Path) -> None:
        evidence = self.config.rootpath / EVIDENCE_DIR
        table_path = directory / "compatibility.md"
        try:
            table.write_rendered(
                table.load_all([directory, *([evidence] if evidence.is_dir() else [])]),
                table_path,
                command=f"python -m reports table {directory} {EVIDENCE_DIR} -o {table_path}",
                expect_distros=distros.names(),
                expect_releases=manifests.RELEASES,
            )
        except SmokeError as err:
            self.status.done(f"table not updated: {err}")
            return
        self.status.done(f"table: {table_path}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The verdict last, on one line: outcome, exit status, and the one reason (or what failed after)."""
        if not self.started:
            return
        data = self.report.to_dict()
        status = self._exit_status(ExitCode.PASSED)
        error = data["error"]
        reasons = list(self.finish_problems)
        if self.setup_error is not None:
            stop = "stopped at preflight, nothing was created: " if self.stopped_at_preflight else ""
            reasons.insert(0, f"{stop}{self.setup_error}")
        elif error and not reasons:
            reasons.append(error["message"])
        reason = "; ".join(reasons)
        where = f" (report: {self.report_path})" if self.report_path else ""
        terminalreporter.write_sep("=", "edgex-smoke")
        terminalreporter.write_line(
            f"edgex-smoke: {data['outcome']}, exit status {status}{': ' + reason if reason else ''}{where}"
        )


class _AtomicJUnit:
    """pytest's JUnit file, written whole or not at all: pytest writes a partial file that is renamed at the end."""

    def __init__(self, final: Path | None, partial: Path | None, name: str | None) -> None:
        self.final = final
        self.partial = partial
        self.name = name
        """The file's name when it lies in the report directory (the report links it), else None."""
        self.published = False
        self.discarded = False

    @classmethod
    def claim(cls, config: pytest.Config, report_dir: Path, run_id: str) -> _AtomicJUnit:
        """Point pytest's JUnit writer (configured after this plugin) at a partial file next to the final one."""
        if not config.pluginmanager.has_plugin("junitxml"):
            return cls(None, None, None)  # -p no:junitxml: no JUnit file is wanted
        final = Path(config.option.xmlpath) if config.option.xmlpath else report_dir / f"junit-{run_id}.xml"
        name = final.name if final.parent.resolve() == report_dir.resolve() else None
        partial = final.with_name(f".{final.name}.partial-{os.getpid()}")
        config.option.xmlpath = str(partial)
        return cls(final, partial, name)

    def publish(self) -> str | None:
        """Rename the partial file into place; remove it if pytest did not finish it. Returns what went wrong."""
        if self.partial is None or self.final is None:
            return None
        if not self.partial.exists():
            return f"JUnit file {self.final} not written" if not self.discarded else None
        try:
            os.replace(self.partial, self.final)
        except OSError as err:
            self.partial.unlink(missing_ok=True)
            return f"JUnit file {self.final} not written: {err.strerror or err}"
        self.published = True
        return None

    def discard(self) -> None:
        """Remove the partial file (the writer failed half way)."""
        self.discarded = True
        if self.partial is not None:
            self.partial.unlink(missing_ok=True)


def _require_writable_dir(directory: Path) -> None:
    """Create `directory` if needed; raise ``pytest.UsageError`` in one line if it cannot be made or written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise pytest.UsageError(
            f"--report-dir: cannot create {str(directory)!r}: {err.strerror or err}; give a directory you can write to"
        ) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise pytest.UsageError(f"--report-dir: {str(directory)!r} is not writable; give a directory you can write to")


def _initial_mode(run_options: opts.RunOptions) -> TargetMode:
    """What the report says about the target until the driver's `up` tells for sure."""
    if run_options.distro == distros.DEFAULT_DISTRO:
        return "embedded"
    return "provisioned" if run_options.provision == "local" else "attached"


def _root_cause_of(err: SmokeError) -> RootCause:
    """The error's diagnosis, or the error itself blamed on the target (infra) or on EdgeX (product)."""
    if isinstance(err, DiagnosedError):
        return err.cause
    return RootCause("target" if err.kind == "infra" else "edgex", str(err))


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _reason(report: pytest.TestReport) -> str:
    if report.passed:
        return ""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    message = str(getattr(crash, "message", None) or report.longreprtext).strip()
    # A check's own one-line failure (pytest.fail) starts with the component; pytest prefixes "Failed: ".
    return message.splitlines()[0].removeprefix("Failed: ") if message else ""


# -- fixtures the suites use -----------------------------------------------------------


def _session(request: pytest.FixtureRequest) -> SmokeSession:
    session = request.config.stash.get(SESSION_KEY, None)
    if session is None:
        pytest.skip("the EdgeX fixtures exist only in smoke runs (pytest suites/ --distro=...)")
    return session


@pytest.fixture(scope="session")
def edgex(request: pytest.FixtureRequest) -> LiveEdgeX:
    """The EdgeX under test, up and answering through its gateway."""
    return _session(request).edgex()
