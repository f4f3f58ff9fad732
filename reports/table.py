"""Merge report files into the compatibility table (Markdown).

One cell per distro, EdgeX release and security mode (``off``: non-secure, ``on``:
secure EdgeX). A cell shows the latest report for it (by ``finished_at``; a newer
run replaces an older one) and nothing else; an expected cell with no report says
"not yet run". Below the matrix, each cell
with a report gets a details section with every check and phase timing.
The output carries no generation time, so re-rendering the same reports gives
the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from reports import describe
from reports.errors import ReportError
from reports.files import load_report, write_text_atomic
from reports.schema import RawReport
from reports.validate import parse_timestamp

Cell = tuple[str, str, str]
"""(distro, release, security)."""

SECURITY_ORDER = ("off", "on")
"""Security modes in the matrix's order: every distro's non-secure row first."""

MATRIX_MESSAGE_CHARS = 120
"""An infra-error reason is cut to this in the matrix; the details keep it whole."""

_ESCAPES = {"\\": "\\\\", "|": "\\|", "*": "\\*", "`": "\\`", "<": "&lt;", ">": "&gt;", "\r": " ", "\n": " "}
_ESCAPE = re.compile("|".join(re.escape(char) for char in _ESCAPES))


@dataclass(frozen=True)
class Source:
    """One loaded report and the file it came from."""

    path: Path
    report: RawReport

    @property
    def finished(self) -> datetime:
        """When the run finished."""
        return parse_timestamp(self.report["finished_at"])

    @property
    def cell(self) -> Cell:
        """The matrix cell this report belongs to."""
        return self.report["target"]["distro"], self.report["edgex"]["release"], self.report["edgex"]["security"]


def md(text: str) -> str:
    """Escape `text` for Markdown, inside a table cell or not: one line, no HTML, no stray pipes or emphasis."""
    return _ESCAPE.sub(lambda match: _ESCAPES[match.group(0)], text)


def anchor(cell: Cell) -> str:
    """A stable HTML id for a cell's details: ``podman-4-0``, and ``podman-4-0-secure`` for secure EdgeX."""
    distro, release, security = cell
    name = "-".join((distro, release, "secure") if security == "on" else (distro, release))
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def title(cell: Cell) -> str:
    """A cell's heading: ``podman, EdgeX 4.0`` and ``podman, EdgeX 4.0, secure``."""
    distro, release, security = cell
    return f"{distro}, EdgeX {release}" + (", secure" if security == "on" else "")


def find_report_files(inputs: Iterable[Path]) -> list[Path]:
    """Expand directories to the ``*.json`` files directly inside them; keep files as given.

    Raises:
        ReportError: An input does not exist.
    """
    found: dict[Path, None] = {}  # ordered set
    for path in inputs:
        if path.is_dir():
            found.update(dict.fromkeys(sorted(path.glob("*.json"))))
        elif path.exists():
            found[path] = None
        else:
            raise ReportError(
                f"{path}: no such file or directory; give report files or directories of them "
                "(a smoke run writes to reports/out, the committed evidence is in docs/evidence)"
            )
    return list(found)


def load_sources(paths: Iterable[Path]) -> list[Source]:
    """Load every report; the first bad file raises `ReportError` naming it."""
    return [Source(path, load_report(path)) for path in paths]


def latest_per_cell(sources: Iterable[Source]) -> dict[Cell, Source]:
    """Keep, per cell, the report that finished last (ties: the larger run id, then file name)."""
    latest: dict[Cell, Source] = {}
    for source in sources:
        rank = (source.finished, source.report["run_id"], source.path.name)
        current = latest.get(source.cell)
        if current is None or rank > (current.finished, current.report["run_id"], current.path.name):
            latest[source.cell] = source
    return latest


def _ordered(expected: Sequence[str], seen: Iterable[str], *, numeric: bool) -> list[str]:
    extra = sorted(set(seen) - set(expected), key=describe.version_key if numeric else str)
    return list(dict.fromkeys(expected)) + extra


def _row(values: Iterable[str]) -> str:
    return "| " + " | ".join(values) + " |"


MATRIX_HEADER = ("Distro", "EdgeX", "Security", "Status", "Date (UTC)", "EdgeX version", "Target", "Images", "Ran on")


def _matrix_row(cell: Cell, source: Source | None) -> str:
    distro, release, security = cell
    if source is None:
        not_run = [md(distro), md(release), md(security), describe.NOT_RUN]
        return _row([*not_run, *[describe.NONE] * (len(MATRIX_HEADER) - len(not_run))])
    report = source.report
    return _row(
        [
            f"[{md(distro)}](#{anchor(cell)})",
            md(release),
            md(security),
            md(describe.status(report, message_chars=MATRIX_MESSAGE_CHARS)),
            describe.finished_date(report),
            md(describe.edgex_versions(report)),
            md(describe.target_versions(report)),
            md(report["edgex"]["image_source"]),
            md(describe.ran_on(report)),
        ]
    )


def _details(cell: Cell, source: Source) -> list[str]:
    report = source.report
    host, tool, edgex, target = report["host"], report["tool"], report["edgex"], report["target"]
    versions = "; ".join(f"{name} {version}" for name, version in edgex["versions"].items()) or describe.UNKNOWN
    where = "CI" if host["ci"] else "not CI"
    commit = f" at {tool['git_commit']}" if tool["git_commit"] else ""
    lines = [
        f'### <a id="{anchor(cell)}"></a>{md(title(cell))}',
        "",
        f"- Outcome: {md(describe.status(report))}",
        f"- Source: {md(source.path.name)} (run {md(report['run_id'])}, "
        f"{md(report['started_at'])} to {md(report['finished_at'])})",
        f"- Target: {md(target['distro'])}, {target['mode']}; {md(describe.fingerprint(report))}",
        f"- EdgeX: release {md(edgex['release'])}, security {edgex['security']}, "
        f"images {md(edgex['image_source'])}; reported versions: {md(versions)}",
        f"- Ran on: {md(host['hostname'])} ({where}, {md(host['platform'])}, Python {md(host['python'])}) "
        f"with {md(tool['name'])} {md(tool['version'])}{md(commit)}",
    ]
    cause = report.get("root_cause")
    if cause is not None:
        evidence = "; ".join(cause["evidence"])
        lines.append(
            f"- Root cause: {md(cause['component'])}: {md(cause['problem'])}"
            + (f" ({md(evidence)})" if evidence else "")
        )
        if cause["blocked"]:
            lines.append(f"- Blocked checks: {md(', '.join(cause['blocked']))}")
    if report["error"] is not None:
        error = report["error"]
        lines.append(f"- Error ({error['kind']}, during {error['phase']}): {md(error['message'])}")
    if report["outcome"] == "interrupted":
        lines.append(f"- Interrupted during: {report['interrupted_phase'] or describe.UNKNOWN}")
    if report["reaped"]:
        lines.append(f"- Leftovers reaped: {md(', '.join(report['reaped']))}")
    artifacts = [name for name in (report["artifacts"]["junit"], report["artifacts"]["diagnostics"]) if name]
    if artifacts:
        lines.append(f"- Artifacts: {md(', '.join(artifacts))}")
    timings = describe.phases(report)
    lines += ["", _row(name for name, _ in timings), _row("---:" for _ in timings), _row(t for _, t in timings), ""]
    if report["checks"]:
        lines += [_row(["Id", "Check", "Outcome", "Duration", "Reason", "Test"]), _row(["---"] * 6)]
        for check in report["checks"]:
            outcome = f"{describe.CHECK_ICONS[check['outcome']]} {check['outcome']}"
            if check["kind"] is not None and check["outcome"] in ("failed", "error"):
                outcome += f" ({check['kind']})"
            cells = [check["id"], check["name"], outcome, describe.seconds(check["duration_s"])]
            lines.append(_row([*map(md, cells), md(check["reason"]), md(check["nodeid"])]))
    else:
        lines.append("No check was recorded.")
    if edgex["images"]:
        lines += ["", _row(["Component", "Image", "Digest"]), _row(["---"] * 3)]
        for image in edgex["images"]:
            lines.append(_row([md(image["component"]), md(image["ref"]), md(image["digest"] or describe.UNKNOWN)]))
    return [*lines, ""]


def render(
    sources: Sequence[Source],
    *,
    command: str,
    expect_distros: Sequence[str] = (),
    expect_releases: Sequence[str] = (),
    expect_security: Sequence[str] = (),
) -> str:
    """Render the compatibility table.

    Args:
        sources: Loaded reports, in any order; several may share a cell.
        command: The command that regenerates this output, quoted in the header.
        expect_distros: Distros that get a row even without a report, in this order.
        expect_releases: EdgeX releases likewise.
        expect_security: Security modes likewise (``off``, ``on``).
    """
    latest = latest_per_cell(sources)
    distros = _ordered(expect_distros, (d for d, _, _ in latest), numeric=False)
    releases = _ordered(expect_releases, (r for _, r, _ in latest), numeric=True)
    seen_modes = {mode for _, _, mode in latest} | set(expect_security)
    modes = [mode for mode in SECURITY_ORDER if mode in seen_modes]
    cells = [(distro, release, mode) for distro in distros for release in releases for mode in modes]
    lines = [
        "# EdgeX compatibility",
        "",
        "<!-- Generated by edgex-smoke; do not edit by hand. -->",
        "",
        f"Generated from {len(sources)} report file(s) by edgex-smoke; do not edit by hand. To regenerate:",
        "",
        "```sh",
        command,
        "```",
        "",
        "Each cell shows the latest report for that distribution, EdgeX release and security mode (off: "
        "non-secure; on: secure EdgeX with its secret store, JWT and TLS at the gateway), and only what that report "
        "contains: ✅ every check that ran passed, ❌ a check failed, ⚠️ the target or deployment never came up, "
        f'⏹ the run was interrupted. A cell without a report says "{describe.NOT_RUN}".',
        "",
        "## Matrix",
        "",
        _row(MATRIX_HEADER),
        _row(["---"] * len(MATRIX_HEADER)),
        *(_matrix_row(cell, latest.get(cell)) for cell in cells),
        "",
    ]
    reported = [cell for cell in cells if cell in latest]
    if reported:
        lines += ["## Details", ""]
        for cell in reported:
            lines += _details(cell, latest[cell])
    return "\n".join(lines).rstrip("\n") + "\n"


def load_all(inputs: Iterable[Path]) -> list[Source]:
    """Load every report found in `inputs` (files or directories); raise `ReportError` if there is none."""
    inputs = list(inputs)
    paths = find_report_files(inputs)
    if not paths:
        where = ", ".join(str(path) for path in inputs)
        raise ReportError(f"no report files (*.json) found in {where}; run the smoke test first or name report files")
    return load_sources(paths)


def write_rendered(
    sources: Sequence[Source],
    output: Path,
    *,
    command: str,
    expect_distros: Sequence[str] = (),
    expect_releases: Sequence[str] = (),
    expect_security: Sequence[str] = (),
) -> None:
    """Render the table of `sources` into `output` atomically.

    Raises:
        ReportError: `output` cannot be written.
    """
    text = render(
        sources,
        command=command,
        expect_distros=expect_distros,
        expect_releases=expect_releases,
        expect_security=expect_security,
    )
    try:
        write_text_atomic(output, text)
    except OSError as err:
        raise ReportError(f"{output}: cannot write the table: {err.strerror or err}") from err
