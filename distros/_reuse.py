"""Which EdgeX ``--reuse`` attaches to, and who holds a busy gateway port: read from the run labels.

``--reuse`` attaches only to an EdgeX kept on purpose (``--keep``) by a run that has ended. A
live run's EdgeX is never touched, and when several are kept the user chooses with ``--name``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness import labels as run_labels
from harness.errors import PreflightError


@dataclass(frozen=True)
class RunningEdgeX:
    """One running EdgeX pod that edgex-smoke deployed, as a target lists it."""

    name: str
    """The pod's name (``--name``, or ``edgex-<run id>``)."""
    labels: Mapping[str, str]
    """The run labels of the pod (podman) or of its namespace (Kubernetes)."""
    where: str = ""
    """Where it runs, when the name alone does not say (``namespace edgex-smoke-…``)."""
    gateway_ports: tuple[int, int] | None = None
    """The gateway's host ports (HTTP, MQTT) its run recorded in the pod's labels."""

    @property
    def run_id(self) -> str:
        return self.labels.get(run_labels.RUN_ID, "unknown")

    @property
    def kept(self) -> bool:
        return self.labels.get(run_labels.KEEP) == "true"

    def state(self) -> str:
        """``kept``, ``still running as pid N``, ``left by a dead run``, or the other host it ran on, for messages."""
        alive = run_labels.owner_alive(self.labels)
        if alive:
            return f"still running as pid {self.labels.get(run_labels.OWNER_PID)}"
        if alive is None:  # another host's run: alive or not cannot be told from here
            host = self.labels.get(run_labels.OWNER_HOST, "?")
            return f"kept by host {host}" if self.kept else f"run by host {host}, not kept"
        return "kept" if self.kept else "left by a dead run"

    def describe(self) -> str:
        """``edgex-… (run …, kept)``."""
        where = f", in {self.where}" if self.where else ""
        return f"{self.name} (run {self.run_id}{where}, {self.state()})"


def choose(found: Sequence[RunningEdgeX], *, wanted: str | None, subject: str, distro: str) -> RunningEdgeX:
    """The one EdgeX ``--reuse`` may attach to; `PreflightError` in one line when there is none or no single one.

    Args:
        found: Every running EdgeX pod with the run labels on the target.
        wanted: ``--name``, or None to take the only kept one.
        subject: The driver's name for messages.
        distro: The ``--distro`` value, for the command in the fix.
    """
    deploy = f"deploy one with 'pytest suites --distro={distro} --keep'"
    named = [edgex for edgex in found if wanted is None or edgex.name == wanted]
    if not named:
        what = f"named {wanted!r}" if wanted else f"labelled {run_labels.SELECTOR}"
        others = f" (running: {', '.join(e.describe() for e in found)})" if found else ""
        raise PreflightError(f"{subject}: --reuse found no running EdgeX {what}{others}; {deploy}, or drop --reuse")
    kept = [edgex for edgex in named if edgex.kept]
    if not kept:
        raise PreflightError(
            f"{subject}: --reuse attaches only to an EdgeX kept with --keep, and {named[0].describe()} was not; "
            f"{deploy}, or drop --reuse"
        )
    ended = [edgex for edgex in kept if _ended(edgex, named_outright=wanted is not None)]
    if not ended:
        raise PreflightError(
            f"{subject}: --reuse will not attach to {kept[0].describe()}, whose run has not ended; "
            f"wait for it to finish, name it with --name if it is yours, or {deploy}"
        )
    if len(ended) > 1:
        raise PreflightError(
            f"{subject}: --reuse found {len(ended)} kept EdgeX: {', '.join(e.describe() for e in ended)}; "
            "choose one with --name NAME"
        )
    return ended[0]


def _ended(edgex: RunningEdgeX, *, named_outright: bool) -> bool:
    """True if the run that kept `edgex` has ended; another host's run cannot be told, so only when named outright."""
    alive = run_labels.owner_alive(edgex.labels)
    return alive is False or (alive is None and named_outright)


def port_advice(edgex: RunningEdgeX, port: int, *, remove: str) -> str:
    """Subject-less message for a gateway `port` that `edgex` holds; `remove` is the command that removes it."""
    if run_labels.owner_alive(edgex.labels):
        return (
            f"host port {port} is held by another edgex-smoke run, {edgex.describe()}; "
            "wait for it to end, or give this run other --gateway-ports"
        )
    return (
        f"host port {port} is held by the EdgeX of an earlier run, {edgex.describe()}; attach to it with "
        f"--reuse --name {edgex.name}, remove it with '{remove}', or give this run other --gateway-ports"
    )
