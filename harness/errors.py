"""The one error hierarchy of edgex-smoke.

Every error raised on purpose derives from `SmokeError`, and its `str()` is one
line naming the subject, the problem, the bad value and the fix. The `kind`
class attribute tells the report whether the target failed to come up
(``infra``) or EdgeX itself misbehaved (``product``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from harness.vocabulary import ErrorKind

STDERR_TAIL_CHARS = 2000


def tail(text: str, limit: int = STDERR_TAIL_CHARS) -> str:
    """Return the last `limit` characters of `text`, stripped, on one line."""
    text = " ".join(text.split())
    return text if len(text) <= limit else "…" + text[-limit:]


class SmokeError(Exception):
    """Base of every error edgex-smoke raises on purpose."""

    kind: ClassVar[ErrorKind] = "infra"


class InfraError(SmokeError):
    """The target, a tool or the host failed; EdgeX was never properly tested."""


class CommandError(InfraError):
    """A command exited non-zero or timed out."""

    def __init__(
        self, argv: Sequence[str], returncode: int | None, stderr: str, *, timeout_s: float | None = None
    ) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        """All of it, for callers that look for one known line; the message carries only `stderr_tail`."""
        self.stderr_tail = tail(stderr)
        head = " ".join(self.argv[:4]) + (" …" if len(self.argv) > 4 else "")
        if timeout_s is not None:
            message = f"{head}: did not finish within {timeout_s:.0f} s"
        else:
            message = f"{head}: exited with status {returncode}"
        if self.stderr_tail:
            message += f": {self.stderr_tail}"
        super().__init__(message)


class PreflightError(InfraError):
    """The host or target is not fit to run the smoke test; nothing was created."""


class ToolMissingError(PreflightError):
    """A required executable is not installed: the host is not fit, nothing was started."""

    def __init__(self, tool: str, package: str | None = None) -> None:
        fix = f"install it: apt-get install {package}" if package else "install it"
        super().__init__(f"{tool}: not found on PATH; {fix}")
        self.tool = tool
        self.package = package


class ReadinessTimeoutError(InfraError):
    """Something did not become ready before its deadline."""


class ReadinessBlockedError(ReadinessTimeoutError):
    """Something cannot become ready without outside help (a crash loop, an image that cannot be had)."""


class ManifestError(InfraError):
    """A manifest, overlay or release profile is invalid."""


class ProductError(SmokeError):
    """EdgeX was up but misbehaved."""

    kind: ClassVar[ErrorKind] = "product"


class GatewayError(ProductError):
    """The API gateway answered with an unexpected status or not at all."""


class GatewayAuthError(GatewayError):
    """The API gateway refused the request (401 or 403)."""


class BrokerError(ProductError):
    """The MQTT broker behind the gateway refused or dropped the connection."""


class EventTimeoutError(ProductError):
    """An expected EdgeX event or value did not arrive before its deadline."""


@dataclass(frozen=True)
class RootCause:
    """The one component a failure is blamed on, and what showed it."""

    component: str
    """A container of the pod (``core-data``, ``gateway``), or ``target`` when no container is to blame."""
    problem: str
    """One clause, e.g. ``exited with code 1 and restarted 2 times``."""
    evidence: tuple[str, ...] = ()
    """What was observed, each one short line: the last error line of a log, a gateway answer."""

    def line(self) -> str:
        """``<component>: <problem>; <first evidence>`` on one line."""
        head = f"{self.component}: {self.problem}"
        return f"{head}; {self.evidence[0]}" if self.evidence else head


class DiagnosedError(ProductError):
    """EdgeX did not come up, and the harness found which component to blame."""

    def __init__(self, cause: RootCause, fix: str) -> None:
        super().__init__(f"{cause.line()}; {fix}")
        self.cause = cause
