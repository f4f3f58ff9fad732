"""The rules that turn what happened during a run into one verdict.

In order, the first rule that matches wins:

1. ``infra-error``: an error of kind ``infra`` was recorded, so the target or the
   deployment never came up and EdgeX was never properly tested. It wins over an
   interruption that came later, because it is the reason the run was cut short.
2. ``interrupted``: a signal (Ctrl-C, SIGTERM from CI) stopped the run; whatever
   ran is reported but proves nothing about the rest.
3. ``failed``: a check failed, errored, was blocked or could not run (``not-run``: a
   skip, whose claim stays unproven), or a ``product`` error was recorded, or no check
   ran at all (nothing collected). A run that proved less than it claims is never shown as passed.
4. ``passed``: at least one check passed and none failed or errored.
"""

from __future__ import annotations

from collections.abc import Iterable

from reports.schema import RawCheck, RawError, RunOutcome

BAD_CHECK_OUTCOMES = frozenset({"failed", "error", "blocked", "not-run"})


def decide(*, error: RawError | None, interrupted: bool, checks: Iterable[RawCheck]) -> RunOutcome:
    """Return the run's outcome by the rules in this module's docstring.

    Args:
        error: The first error recorded outside a check, if any.
        interrupted: Whether a signal stopped the run.
        checks: Every check recorded.
    """
    if error is not None and error["kind"] == "infra":
        return "infra-error"
    if interrupted:
        return "interrupted"
    outcomes = [check["outcome"] for check in checks]
    if error is not None or "passed" not in outcomes or any(o in BAD_CHECK_OUTCOMES for o in outcomes):
        return "failed"
    return "passed"
