"""``python -m reports``: render the compatibility table or summarise one report.

Exit status: 0 on success, 2 for a usage problem (bad option, no report found,
an unreadable or invalid report) with a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from reports import describe, gate, show, table
from reports.errors import ReportError
from reports.files import load_report

DEFAULT_REPORT_DIR = Path("reports/out")
USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: {message} (see --help)\n")


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _security_modes(text: str) -> list[str]:
    modes = _names(text)
    unknown = [mode for mode in modes if mode not in table.SECURITY_ORDER]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown security mode {unknown[0]!r}; give off, on or off,on")
    return modes


def _parser() -> _Parser:
    parser = _Parser(
        prog="python -m reports",
        description="Smoke-test reports: compatibility table and summaries.",
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{table,show,gate}")
    render = commands.add_parser(
        "table",
        help="Merge reports into the compatibility table (Markdown)",
        description="Merge reports into the compatibility table: per distro and EdgeX release, the latest report.",
        allow_abbrev=False,
    )
    render.add_argument(
        "inputs",
        nargs="*",
        type=Path,
        metavar="REPORT.json|DIR",
        help=f"Report files, or directories whose *.json files are reports (default: {DEFAULT_REPORT_DIR})",
    )
    render.add_argument("-o", "--output", type=Path, help="Write the table here instead of standard output")
    render.add_argument(
        "--expect-distros",
        type=_names,
        default=[],
        metavar="A,B",
        help="Distros that get a row even without a report, in this order",
    )
    render.add_argument(
        "--expect-releases",
        type=_names,
        default=[],
        metavar="X,Y",
        help="EdgeX releases that get a row even without a report, in this order",
    )
    render.add_argument(
        "--expect-security",
        type=_security_modes,
        default=[],
        metavar="off,on",
        help="Security modes that get a row even without a report (off: non-secure EdgeX, on: secure)",
    )
    summary = commands.add_parser("show", help="Print a short summary of one report", allow_abbrev=False)
    summary.add_argument("report", type=Path, metavar="REPORT.json", help="The report file")
    gatekeeper = commands.add_parser(
        "gate",
        help="Exit 0 only if the one report in DIR has the expected outcome (CI)",
        description="Read the one report a smoke run wrote into DIR and require the expected outcome.",
        allow_abbrev=False,
    )
    gatekeeper.add_argument("directory", type=Path, metavar="DIR", help="The --report-dir of exactly one run")
    gatekeeper.add_argument("--distro", required=True, help="The distro the run was asked to test")
    gatekeeper.add_argument("--status", type=int, required=True, help="The run's exit status")
    gatekeeper.add_argument("--expect", default="passed", choices=("passed", "failed", "infra-error", "interrupted"))
    gatekeeper.add_argument(
        "--real-edgex", action="store_true", help="Require answers from real EdgeX services, never the test double"
    )
    gatekeeper.add_argument("--security", choices=("off", "on"), help="Require the run's security mode")
    return parser


def _refuse_test_doubles(sources: Sequence[table.Source]) -> None:
    for source in sources:
        if describe.is_test_double(source.report):
            raise ReportError(
                f"{source.path}: a run on the harness's EdgeX test double is never evidence of EdgeX; "
                "remove it from the reports you tabulate"
            )


def _table(args: argparse.Namespace, argv: Sequence[str]) -> None:
    inputs: list[Path] = args.inputs or [DEFAULT_REPORT_DIR]
    if not args.inputs and not DEFAULT_REPORT_DIR.is_dir():
        raise ReportError(
            f"{DEFAULT_REPORT_DIR}: no such directory (the default when no reports are given); run a smoke test "
            "first (make smoke), or give report files or directories, e.g. docs/evidence"
        )
    command = shlex.join(["python", "-m", "reports", *argv])
    sources = table.load_all(inputs)
    _refuse_test_doubles(sources)
    expected = {
        "expect_distros": args.expect_distros,
        "expect_releases": args.expect_releases,
        "expect_security": args.expect_security,
    }
    if args.output is None:
        sys.stdout.write(table.render(sources, command=command, **expected))
        return
    table.write_rendered(sources, args.output, command=command, **expected)
    print(f"wrote {args.output} from {len(sources)} report file(s)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as done:  # --help, or a usage error already reported in one line
        return done.code if isinstance(done.code, int) else USAGE_ERROR
    try:
        if args.command == "table":
            _table(args, argv)
        elif args.command == "gate":
            verdict = gate.check(
                args.directory,
                distro=args.distro,
                status=args.status,
                expect=args.expect,
                real_edgex=args.real_edgex,
                security=args.security,
            )
            print(f"ci: {verdict}")
        else:
            if not args.report.is_file():
                raise ReportError(
                    f"{args.report}: no such report file; give a report's path, e.g. the newest .json file "
                    f"in {DEFAULT_REPORT_DIR} (ls -t {DEFAULT_REPORT_DIR}/*.json)"
                )
            sys.stdout.write(show.summary(load_report(args.report), args.report))
    except ReportError as err:
        print(f"python -m reports: {err}", file=sys.stderr)
        return USAGE_ERROR
    return 0
