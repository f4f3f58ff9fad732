"""Images for a node without a registry: side-load from podman storage into the node's containerd.

``podman save`` writes a docker-archive, which the node's ``ctr images import`` (or the
distribution's own import command) unpacks into the CRI namespace. Each import is
labelled with the podman image ID it came from, so a later run skips what the node
already holds, and imports again an image rebuilt under the same tag.

Where this host cannot reach the nodes' runtime, `check_images_on_nodes` asks the API
server which images the kubelets report instead.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import manifests
from harness import labels as run_labels
from harness import proc
from harness.errors import CommandError, InfraError, PreflightError, SmokeError

if TYPE_CHECKING:  # the Kubernetes client costs 0.3 s to import; the podman driver never needs it
    from distros import _kube

log = logging.getLogger(__name__)

IMPORT_TIMEOUT_S = 600.0
PULL_TIMEOUT_S = 600.0
QUERY_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 20.0
"""For one manifest fetch: offline hosts fail at once, a dropped connection takes the whole bound."""
IMAGE_REPORT_TIMEOUT_S = 30.0
"""How long to wait for kubelets to report a side-loaded image (they update node status every 10 s)."""

SOURCE_ID_LABEL = "io.edgex-smoke.podman-image-id"
"""Set on every image this module imports: the podman image ID it was saved from."""

MISSING_FIX = (
    "choose --images lab (built by 'make lab-images' in an edgex-smoke checkout), --images upstream on a "
    "networked host, or --images <registry/prefix> for a mirror"
)


@dataclass(frozen=True)
class NodeRuntime:
    """How this host reaches one node's containerd: the ``ctr`` command line, and the distribution's own verbs."""

    ctr: tuple[str, ...]
    """``ctr`` and its address: ``("k3s", "ctr")``, or ``("ctr", "--address", "/run/containerd/containerd.sock")``."""
    namespace: str = "k8s.io"
    import_command: tuple[str, ...] | None = None
    """Imports the archive path appended to it; ``ctr images import`` when None."""
    pull_command: tuple[str, ...] | None = None
    """Pulls the reference appended to it; ``ctr images pull`` when None."""

    def _ctr(self, *args: str) -> list[str]:
        return [*self.ctr, "--namespace", self.namespace, *args]

    def list_argv(self) -> list[str]:
        """List the images with their labels (not ``--quiet``: the labels tell where an image came from)."""
        return self._ctr("images", "list")

    def import_argv(self, archive: Path) -> list[str]:
        """Import one docker-archive."""
        if self.import_command is not None:
            return [*self.import_command, str(archive)]
        return self._ctr("images", "import", str(archive))

    def label_argv(self, ref: str, image_id: str) -> list[str]:
        """Record on the imported image which podman image it came from."""
        return self._ctr("images", "label", manifests.runtime_reference(ref), f"{SOURCE_ID_LABEL}={image_id}")

    def pull_argv(self, ref: str) -> list[str]:
        """Pull a reference that podman storage lacks."""
        full = manifests.runtime_reference(ref)
        if self.pull_command is not None:
            return [*self.pull_command, full]
        return self._ctr("images", "pull", full)


def parse_image_list(text: str) -> dict[str, dict[str, str]]:
    """Image name → labels, from ``ctr images list`` (columns REF … LABELS; ``-`` for none; digests dropped)."""
    images: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0] == "REF" or fields[0].startswith("sha256:"):
            continue
        labels: dict[str, str] = {}
        if len(fields) > 1 and "=" in fields[-1]:
            for pair in fields[-1].split(","):
                key, _, value = pair.partition("=")
                labels[key] = value
        images[fields[0]] = labels
    return images


def save_image_argv(ref: str, archive: Path) -> list[str]:
    """``podman save`` of one image into a docker-archive, the format containerd's import reads."""
    return ["podman", "save", "--format", "docker-archive", "--output", str(archive), ref]


def podman_image_id(ref: str) -> str | None:
    """The ID of `ref` in this host's podman storage, or None (not there, or no podman)."""
    try:
        done = proc.run(
            ["podman", "image", "inspect", "--format", "{{.Id}}", ref], timeout_s=QUERY_TIMEOUT_S, check=False
        )
    except SmokeError:
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def podman_image_labels(ref: str) -> dict[str, str]:
    """The provenance labels of `ref` in this host's podman storage; empty if it is not there (or no podman)."""
    try:
        done = proc.run(
            ["podman", "image", "inspect", "--format", "{{json .Labels}}", ref], timeout_s=QUERY_TIMEOUT_S, check=False
        )
        found = json.loads(done.stdout) if done.returncode == 0 else None
    except (SmokeError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {key: str(found[key]) for key in run_labels.PROVENANCE_LABELS if key in found}


def podman_can_pull(ref: str) -> bool:
    """True if podman on this host fetches the manifest of `ref` within `PROBE_TIMEOUT_S` (no layers are pulled)."""
    if ref.startswith("localhost/"):
        return False
    try:
        done = proc.run(["podman", "manifest", "inspect", ref], timeout_s=PROBE_TIMEOUT_S, check=False)
    except SmokeError:
        return False
    return done.returncode == 0


def side_load(
    refs: Iterable[str],
    runtime: NodeRuntime,
    *,
    subject: str,
    work_dir: Path,
    progress: Callable[[str], None],
) -> list[str]:
    """Make every image of `refs` present in the node's containerd; return the references imported or pulled.

    An image in podman storage is imported unless the node holds that very image (same podman
    image ID); one that podman lacks is kept if the node has it, else pulled by the node (never a
    ``localhost/`` reference).

    Raises:
        InfraError: the node's runtime cannot be listed.
        PreflightError: one line naming every image that could not be had, and the fix.
    """
    try:
        present = parse_image_list(proc.run(runtime.list_argv(), timeout_s=QUERY_TIMEOUT_S).stdout)
    except CommandError as err:
        raise InfraError(f"{subject}: cannot list the node's images ({err}); is its containerd running?") from err
    loaded: list[str] = []
    still_missing: list[str] = []
    work_dir.mkdir(parents=True, exist_ok=True)
    for ref in dict.fromkeys(refs):
        on_node = present.get(manifests.runtime_reference(ref))
        image_id = podman_image_id(ref)
        if image_id is not None:
            if on_node is not None and on_node.get(SOURCE_ID_LABEL) == image_id:
                continue
            progress(f"side-loading {ref}")
            with tempfile.TemporaryDirectory(dir=work_dir, prefix="image-") as tmp:
                archive = Path(tmp) / "image.tar"
                proc.run(save_image_argv(ref, archive), timeout_s=IMPORT_TIMEOUT_S)
                proc.run(runtime.import_argv(archive), timeout_s=IMPORT_TIMEOUT_S)
            proc.run(runtime.label_argv(ref, image_id), timeout_s=QUERY_TIMEOUT_S)
            loaded.append(ref)
        elif on_node is not None:
            continue
        elif not ref.startswith("localhost/"):
            progress(f"pulling {ref}")
            if proc.run(runtime.pull_argv(ref), timeout_s=PULL_TIMEOUT_S, check=False).returncode:
                still_missing.append(ref)
            else:
                loaded.append(ref)
        else:
            still_missing.append(ref)
    if still_missing:
        raise PreflightError(
            f"{subject}: {len(still_missing)} image(s) missing from the node's runtime and neither in podman "
            f"storage nor pullable: {', '.join(still_missing)}; {MISSING_FIX}"
        )
    return loaded


def check_images_on_nodes(kube: _kube.KubeClient, refs: Sequence[str], *, subject: str) -> None:
    """On a cluster this host cannot side-load into: fail if an unpullable image is on no node.

    Pullable references are left to the kubelet (a failure names the image); a
    ``localhost/`` reference fails preflight only when every node's image list is
    complete (the kubelet reports at most 50 images per node), after waiting for
    the kubelets' next status update.

    Raises:
        PreflightError: naming the missing images and the fix.
    """
    local_refs = [ref for ref in dict.fromkeys(refs) if ref.startswith("localhost/")]
    if not local_refs:
        return
    missing = kube.missing_node_images(local_refs, timeout_s=IMAGE_REPORT_TIMEOUT_S)
    if missing:
        raise PreflightError(
            f"{subject}: {len(missing)} image(s) not on any node and not pullable: {', '.join(missing)}; "
            "import them into the node's runtime (e.g. 'ctr -n k8s.io images import'), "
            "or choose --images <registry/prefix>"
        )
