"""The edge host reserves EdgeX's ports from its ephemeral range, as manifests/README.md asks of it.

Under the KubeEdge overlay's hostNetwork, the pod's listeners are the host's: EdgeX's service
ports (59880-59986) lie in Linux's default ephemeral range, and any outgoing connection on the
host (the lab cluster's own loopback traffic, a smoke run's clients) can take one as its source
port, so the service that owns it fails with "bind: address already in use" and crash-loops.
The pod cannot reserve them there (the kubelet refuses a node-wide sysctl), so the lab's edge
host does: `reserve` adds the release's ports in that range (secure mode's too) to
``net.ipv4.ip_local_reserved_ports`` and records what it added; `release` takes back exactly
those, if they are still there.
"""

from __future__ import annotations

from pathlib import Path

import manifests

SYSCTL = Path("/proc/sys/net/ipv4/ip_local_reserved_ports")
RELEASE = "4.0"


def parse(value: str) -> set[int]:
    """The ports of a sysctl value such as ``59880,59900-59902``."""
    ports: set[int] = set()
    for part in value.replace("\n", "").split(","):
        if not part.strip():
            continue
        low, _, high = part.strip().partition("-")
        ports.update(range(int(low), int(high or low) + 1))
    return ports


def render(ports: set[int]) -> str:
    """The sysctl value of `ports`, sorted (single ports; the kernel accepts and merges them)."""
    return ",".join(str(port) for port in sorted(ports))


def edgex_ports() -> set[int]:
    """The release's ports in the ephemeral range (secure mode's too), as the non-hostNetwork pod reserves them."""
    return parse(manifests.reserved_ports(manifests.release_info(RELEASE)))


def reserve(record: Path, sysctl: Path = SYSCTL) -> set[int]:
    """Add EdgeX's ports to the host's reserved ports; write the ones this call added to `record`."""
    present = parse(sysctl.read_text())
    added = edgex_ports() - present
    if added:
        sysctl.write_text(render(present | added))
    record.write_text(render(added))
    return added


def release(record: Path, sysctl: Path = SYSCTL) -> set[int]:
    """Take back the ports `reserve` added (those still reserved); remove `record`."""
    if not record.is_file():
        return set()
    added = parse(record.read_text())
    present = parse(sysctl.read_text())
    if added & present:
        sysctl.write_text(render(present - added) or "\n")
    record.unlink()
    return added & present
