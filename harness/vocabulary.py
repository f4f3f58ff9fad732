"""Words that cross the layers: how the run got its target, and whose fault a failure was."""

from __future__ import annotations

from typing import Literal

TargetMode = Literal["embedded", "provisioned", "attached"]
"""``embedded``: the host itself runs the pod (podman); ``provisioned``: made for the run; ``attached``: found."""

ErrorKind = Literal["infra", "product"]
"""``infra``: the target, a tool or the host failed; ``product``: EdgeX was up and misbehaved."""
