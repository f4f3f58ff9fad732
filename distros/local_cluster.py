"""The seam to a Kubernetes cluster running on this host: one JSON file its runner writes, ``--provision local`` reads.

Whoever starts a single-node cluster on this host for smoke runs (in this repository, the lab
cluster: ``python -m lab.cluster up``) writes the file when the node is Ready and removes it when
the cluster stops. It tells the k8s driver three things it cannot find out by itself:

- ``kubeconfig``: the admin kubeconfig (0600; never copied, never printed);
- ``containerd``: the socket and namespace of the node's containerd, so images can be side-loaded
  from podman storage (there is no registry);
- ``facts``: what the API server cannot show, for the report (e.g. ``kube_proxy: none``).

The product never starts or stops that cluster: a missing file is a preflight line that says how
to start one.

A KubeEdge edge node run on this host next to that cluster (in this repository, the lab KubeEdge:
``python -m lab.kubeedge up``) writes a second file of the same shape, ``local-kubeedge.json``: the
cluster's kubeconfig, the *edge* node's name and its own containerd, and facts such as the KubeEdge
version. ``--distro kubeedge --provision local`` reads it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import PreflightError

FILE_NAME = "local-cluster.json"
ENV_STATE_DIR = "EDGEX_SMOKE_CLUSTER_STATE"
EDGE_FILE_NAME = "local-kubeedge.json"
START_HINT = "start it with 'python -m lab.cluster up' (make lab-cluster) in an edgex-smoke checkout"
EDGE_START_HINT = "start it with 'python -m lab.kubeedge up' (make lab-kubeedge) in an edgex-smoke checkout"


def state_dir() -> Path:
    """Return ``$EDGEX_SMOKE_CLUSTER_STATE``, else ``${XDG_CACHE_HOME:-~/.cache}/edgex-smoke/cluster/state``."""
    override = os.environ.get(ENV_STATE_DIR)
    if override:
        return Path(override).absolute()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edgex-smoke" / "cluster" / "state"


def descriptor_path() -> Path:
    """Where the running local cluster's descriptor is: ``<state dir>/local-cluster.json``."""
    return state_dir() / FILE_NAME


def edge_descriptor_path() -> Path:
    """Where the running local KubeEdge edge node's descriptor is: ``<state dir>/local-kubeedge.json``."""
    return state_dir() / EDGE_FILE_NAME


@dataclass(frozen=True)
class LocalCluster:
    """A running single-node cluster on this host, as its descriptor file tells."""

    kubeconfig: Path
    node_name: str
    containerd_address: Path
    containerd_namespace: str = "k8s.io"
    facts: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The descriptor as written to disk."""
        return {
            "kubeconfig": str(self.kubeconfig),
            "node_name": self.node_name,
            "containerd": {"address": str(self.containerd_address), "namespace": self.containerd_namespace},
            "facts": dict(self.facts),
        }

    def write(self, path: Path) -> None:
        """Write the descriptor whole (temporary file, then rename), so a reader never sees half of it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        partial.replace(path)


def read(path: Path | None = None, *, edge: bool = False) -> LocalCluster:
    """Read the descriptor of the running local cluster (`edge`: of the local KubeEdge edge node).

    Raises:
        PreflightError: No descriptor (none runs), or one that cannot be read or lacks a field.
    """
    path = path or (edge_descriptor_path() if edge else descriptor_path())
    subject, what, hint = (
        ("kubeedge", "KubeEdge edge node", EDGE_START_HINT) if edge else ("k8s", "cluster", START_HINT)
    )
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise PreflightError(f"{subject}: --provision local: no local {what} is running (no {path}); {hint}") from None
    except (OSError, ValueError) as err:
        raise PreflightError(
            f"{subject}: --provision local: cannot read the local {what}'s descriptor {path} ({err}); "
            f"restart it so it writes the file anew ({hint})"
        ) from None
    try:
        containerd = raw["containerd"]
        return LocalCluster(
            kubeconfig=Path(raw["kubeconfig"]),
            node_name=str(raw["node_name"]),
            containerd_address=Path(containerd["address"]),
            containerd_namespace=str(containerd.get("namespace") or "k8s.io"),
            facts={str(k): str(v) for k, v in (raw.get("facts") or {}).items()},
        )
    except (KeyError, TypeError, AttributeError) as err:
        raise PreflightError(
            f"{subject}: --provision local: the descriptor {path} lacks {err}; restart it so it writes the file "
            f"anew ({hint})"
        ) from None
