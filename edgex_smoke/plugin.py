"""The pytest plugin: options, the session's EdgeX, check recording and the report.

Loaded by the root ``conftest.py``. A run that collects only ``tests/`` (the
harness's own tests) registers nothing but the options; a smoke run (``suites/``)
also gets the `SmokeSession` that stands EdgeX up on first use and tears it down
at the end, even after Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import signal
import sys
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
from harness.errors import DiagnosedError, PreflightError, RootCause, SmokeError
from harness.vocabulary import ErrorKind, TargetMode
from reports import table
from reports.schema import PhaseName
from reports.writer import RunReport

SESSION_KEY = pytest.StashKey["SmokeSession"]()
PREFLIGHT_EXIT_CODE = 4
EVIDENCE_DIR = "docs/evidence"


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
            security="off",
        )
        self.run = SmokeRun(run_options, self.report, self.status)
        self.live: LiveEdgeX | None = None
        self.setup_error: SmokeError | None = None
        self.started = False
        self.interrupted = False
        self.any_failed = False
        self.junit_name: str | None = None
        self._checks: dict[str, tuple[str, str]] = {}
        self._previous_sigterm: Any = None
        run_options.report_dir.mkdir(parents=True, exist_ok=True)
        if not config.option.xmlpath:
            self.junit_name = f"junit-{self.report.run_id}.xml"
            config.option.xmlpath = str(run_options.report_dir / self.junit_name)
        elif Path(config.option.xmlpath).parent.resolve() == run_options.report_dir.resolve():
            self.junit_name = Path(config.option.xmlpath).name

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
        """Remember the interruption and the phase it hit."""
        self.interrupted = True
        phase: PhaseName = self.run.current_phase or "checks"
        self.report.mark_interrupted(phase)

    # -- the EdgeX under test -------------------------------------------------------------

    def edgex(self) -> LiveEdgeX:
        """Stand EdgeX up on first use; later calls return it, or repeat the first error."""
        if self.live is not None:
            return self.live
        if self.setup_error is None and not self.started:
            self.started = True
            try:
                self.live = self.run.start()
                return self.live
            except PreflightError as err:
                self.setup_error = err
                self._record_setup_error(err)
                pytest.exit(f"edgex-smoke preflight: {err}", returncode=PREFLIGHT_EXIT_CODE)
            except SmokeError as err:
                self.setup_error = err
                self._record_setup_error(err)
                pytest.fail(str(err), pytrace=False)
        cause = _root_cause_of(self.setup_error) if self.setup_error else None
        pytest.fail(
            f"blocked by the root cause, {cause.component} (the first check's error says why)"
            if cause
            else "EdgeX setup did not complete",
            pytrace=False,
        )

    def _record_setup_error(self, err: SmokeError) -> None:
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
        if report.failed:
            self.any_failed = True
        outcome = "passed"
        if report.skipped:
            outcome = "skipped"
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

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, None, None]:
        """Time the checks phase."""
        started = time.monotonic()
        yield
        if self.live is not None:
            self.report.record_phase("checks", time.monotonic() - started)

    # -- the end ------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Generator[None, None, None]:
        """After pytest's own teardown: diagnostics, cleanup, the report and the table."""
        result = yield
        try:
            if self.started:
                self.run.finish(failed=self.any_failed or self.interrupted)
        except SmokeError as err:
            self.report.fail("infra", "teardown", str(err))
        finally:
            signal.signal(signal.SIGTERM, self._previous_sigterm or signal.SIG_DFL)
            self._write_report()
        return result

    def _write_report(self) -> None:
        directory = self.options.report_dir
        diagnostics = self.run.diagnostics_dir
        self.report.set_artifacts(
            junit=self.junit_name,
            diagnostics=str(diagnostics.relative_to(directory.resolve())) if diagnostics else None,
        )
        path = self.report.write(directory)
        outcome = self.report.to_dict()["outcome"]
        self.status.phase("report")
        self.status.update(f"{outcome}: {path}")
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
