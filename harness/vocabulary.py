"""Words that cross the layers: how the run got its target, and whose fault a failure was."""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

TargetMode = Literal["embedded", "provisioned", "attached"]
"""``embedded``: the host itself runs the pod (podman); ``provisioned``: made for the run; ``attached``: found."""

ErrorKind = Literal["infra", "product"]
"""``infra``: the target, a tool or the host failed; ``product``: EdgeX was up and misbehaved."""


class ExitCode(IntEnum):
    """What a smoke run's exit status means; pytest's own codes keep their meaning (0 to 5)."""

    PASSED = 0
    EDGEX_FAILED = 1
    """EdgeX came up (or was meant to) and a check found it misbehaving."""
    INTERRUPTED = 2
    """Ctrl-C or SIGTERM: the run was cut short, then cleaned up."""
    INTERNAL_ERROR = 3
    """A defect of the harness itself (pytest's internal error)."""
    OPTION_ERROR = 4
    """A bad command-line option (pytest's usage error); nothing was started."""
    INFRA_ERROR = 6
    """The host, the target or the images failed (EdgeX was never properly tested), or the report was not written."""


OUTCOME_EXIT_CODES: dict[str, ExitCode] = {
    "passed": ExitCode.PASSED,
    "failed": ExitCode.EDGEX_FAILED,
    "interrupted": ExitCode.INTERRUPTED,
    "infra-error": ExitCode.INFRA_ERROR,
}
"""The exit status that goes with each report outcome."""
