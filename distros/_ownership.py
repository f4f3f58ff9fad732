"""Labels that mark what a run created, so a later run can tell leftovers from live work."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence

from distros._protocol import KubeObject

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "edgex-smoke"
RUN_ID = "edgex-smoke/run-id"
OWNER_HOST = "edgex-smoke/owner-host"
OWNER_PID = "edgex-smoke/owner-pid"
KEEP = "edgex-smoke/keep"

SELECTOR = f"{MANAGED_BY}={MANAGED_BY_VALUE}"


def _label_safe(value: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in value)[:63]
    return cleaned.strip("-_.") or "unknown"


def ownership_labels(run_id: str, *, keep: bool) -> dict[str, str]:
    """Labels naming this run, this process and whether the run keeps its objects."""
    return {
        MANAGED_BY: MANAGED_BY_VALUE,
        RUN_ID: run_id,
        OWNER_HOST: _label_safe(socket.gethostname()),
        OWNER_PID: str(os.getpid()),
        KEEP: "true" if keep else "false",
    }


def with_labels(objects: Sequence[KubeObject], labels: Mapping[str, str]) -> list[KubeObject]:
    """Return copies of `objects` with `labels` added to each object's metadata (and a Pod template's)."""
    labelled: list[KubeObject] = []
    for obj in objects:
        copy = {**obj, "metadata": {**obj.get("metadata", {})}}
        copy["metadata"]["labels"] = {**copy["metadata"].get("labels", {}), **labels}
        labelled.append(copy)
    return labelled


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_leftover(labels: Mapping[str, str], *, current_run_id: str) -> bool:
    """True if an object carrying `labels` belongs to a dead run of ours and was not kept on purpose."""
    if labels.get(MANAGED_BY) != MANAGED_BY_VALUE or labels.get(RUN_ID) == current_run_id:
        return False
    if labels.get(KEEP) == "true":
        return False
    if labels.get(OWNER_HOST) != _label_safe(socket.gethostname()):
        return False  # another host's run: we cannot tell whether it is alive, so leave it
    try:
        pid = int(labels.get(OWNER_PID, ""))
    except ValueError:
        return True
    return not _pid_alive(pid)
