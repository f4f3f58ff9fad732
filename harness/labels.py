"""The labels on everything a run creates: what it is, which run made it, and whether that run is alive.

The renderer puts the identity labels (`identity_labels`) on every object; the run adds
the ownership labels (`ownership_labels`) before it deploys; the drivers select by
`SELECTOR` and reap with `is_leftover`. Nothing else defines a label key.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping, Sequence
from typing import Any

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "edgex-smoke"
NAME = "app.kubernetes.io/name"
PART_OF = "app.kubernetes.io/part-of"
RUN_ID = "edgex-smoke/run-id"
OWNER_HOST = "edgex-smoke/owner-host"
OWNER_PID = "edgex-smoke/owner-pid"
KEEP = "edgex-smoke/keep"
GATEWAY_HTTP_PORT = "edgex-smoke/gateway-http-port"
GATEWAY_MQTT_PORT = "edgex-smoke/gateway-mqtt-port"

SELECTOR = f"{MANAGED_BY}={MANAGED_BY_VALUE}"

_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def is_label_value(value: str) -> bool:
    """True if `value` is a valid Kubernetes label value (1-63 characters, alphanumeric at both ends)."""
    return bool(_LABEL_VALUE.match(value))


def label_value(value: str) -> str:
    """`value` made into a valid label value (anything else becomes ``-``), ``unknown`` if nothing is left."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in value)[:63]
    return cleaned.strip("-_.") or "unknown"


def identity_labels(run_id: str) -> dict[str, str]:
    """What every rendered object carries: EdgeX, managed by edgex-smoke, made for run `run_id`."""
    return {NAME: "edgex", PART_OF: "edgex", MANAGED_BY: MANAGED_BY_VALUE, RUN_ID: run_id}


def ownership_labels(run_id: str, *, keep: bool) -> dict[str, str]:
    """Labels naming this run, this host and process, and whether the run keeps its objects."""
    return {
        MANAGED_BY: MANAGED_BY_VALUE,
        RUN_ID: run_id,
        OWNER_HOST: label_value(socket.gethostname()),
        OWNER_PID: str(os.getpid()),
        KEEP: "true" if keep else "false",
    }


def gateway_port_labels(http_port: int, mqtt_port: int) -> dict[str, str]:
    """Labels recording the gateway's host ports, so a later ``--reuse`` run finds them."""
    return {GATEWAY_HTTP_PORT: str(http_port), GATEWAY_MQTT_PORT: str(mqtt_port)}


def gateway_ports_of(labels: Mapping[str, str]) -> tuple[int, int] | None:
    """The gateway's host ports (HTTP, MQTT) from `gateway_port_labels`, or None if they are not there."""
    try:
        return int(labels[GATEWAY_HTTP_PORT]), int(labels[GATEWAY_MQTT_PORT])
    except (KeyError, ValueError):
        return None


def with_labels(objects: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Return copies of `objects` with `labels` added to each object's metadata."""
    labelled: list[dict[str, Any]] = []
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


def owner_alive(labels: Mapping[str, str]) -> bool | None:
    """Whether the run that made an object carrying `labels` is still running; None if it ran on another host."""
    if labels.get(OWNER_HOST) != label_value(socket.gethostname()):
        return None
    try:
        pid = int(labels.get(OWNER_PID, ""))
    except ValueError:
        return False
    return _pid_alive(pid)


def is_leftover(labels: Mapping[str, str], *, current_run_id: str) -> bool:
    """True if an object carrying `labels` belongs to a dead run of ours and was not kept on purpose."""
    if labels.get(MANAGED_BY) != MANAGED_BY_VALUE or labels.get(RUN_ID) == current_run_id:
        return False
    if labels.get(KEEP) == "true":
        return False
    # another host's run (None): we cannot tell whether it is alive, so leave it
    return owner_alive(labels) is False


def instance_name(run_id: str) -> str:
    """The name of the EdgeX a run deploys (its pod), ``edgex-<run id lower-cased>``: unique per run."""
    return "edgex-" + label_value(run_id.lower())


# -- image labels: where an image came from, set by the build that made it ------------------------------

IMAGE_LAB = "io.edgex-smoke.lab"
"""``true`` on every image the lab built (lab/)."""
IMAGE_PIN = "io.edgex-smoke.pin"
"""On a lab image: the release module (or Debian suite) it was built from, e.g. ``github.com/…@v4.0.1 (v4.0.1)``."""
IMAGE_TEST_DOUBLE = "edgex-smoke.test-double"
"""``true`` on every image of the harness's EdgeX test double (tests/); such a run is never evidence."""
PROVENANCE_LABELS = (IMAGE_LAB, IMAGE_PIN, IMAGE_TEST_DOUBLE)
"""The image labels a report records for each image."""
