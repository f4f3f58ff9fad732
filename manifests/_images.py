"""Where the pod's images come from: the `--images` option.

Three forms:

- ``upstream``: the catalog's Docker Hub names, fully qualified (``docker.io/edgexfoundry/core-data:4.0.2``,
  ``docker.io/library/postgres:18.1-alpine3.22``), ``imagePullPolicy: IfNotPresent``. Never short
  names: podman resolves a short name to any local image whose name ends the same way, so
  ``edgexfoundry/core-data:4.0.2`` would run a mirror's copy or the harness's test double
  (``localhost/edgex-smoke-double/edgexfoundry/core-data:4.0.2``) as if it were upstream.
- ``lab``: the catalog's lab references (``localhost/edgex-smoke-lab/...``), built
  locally and never pulled: ``imagePullPolicy: Never``; `images/lab.yaml` patches
  what differs for those images.
- a mirror prefix ``<registry-host>[:<port>][/<path>]`` for air-gapped sites: every
  upstream reference is written below the prefix with its full Docker Hub path,
  official images included under ``library/`` (as Docker Hub itself names them
  and as registry mirrors store them)::

      mirror.example:5000/edge + edgexfoundry/core-data:4.0.2
          -> mirror.example:5000/edge/edgexfoundry/core-data:4.0.2
      mirror.example:5000/edge + postgres:18.1-alpine3.22
          -> mirror.example:5000/edge/library/postgres:18.1-alpine3.22

  The first part of the prefix must name a registry host: it contains a dot or
  a port, or is ``localhost``. ``imagePullPolicy: IfNotPresent``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from harness.errors import ManifestError

ImageSourceKind = Literal["upstream", "lab", "mirror"]

DOCKER_HUB = "docker.io"

IMAGE_SOURCES: tuple[str, ...] = ("upstream", "lab", "<registry>[:<port>][/<path>]")
"""The forms `ImageSource.parse` accepts, for option help and messages."""

IMAGE_SOURCES_HELP = (
    "upstream (Docker Hub names), lab (local edgex-smoke-lab images, never pulled) "
    "or a mirror prefix <registry>[:<port>][/<path>], e.g. mirror.example:5000/edge"
)

_HOST = re.compile(
    r"^(localhost|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)(:[0-9]{1,5})?$"
)
_PATH_PART = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*$")


def _forms() -> str:
    return " | ".join(IMAGE_SOURCES)


def _parse_prefix(value: str) -> str:
    prefix = value.strip().rstrip("/")
    host, _, path = prefix.partition("/")
    looks_like_registry = "." in host or ":" in host or host == "localhost"
    if "://" in value or not _HOST.match(host) or not looks_like_registry:
        raise ManifestError(
            f"--images {value!r} is neither a known source nor a registry prefix; use {_forms()} "
            "(a prefix starts with a host that has a dot or a port, e.g. mirror.example:5000/edge)"
        )
    for part in path.split("/") if path else ():
        if not _PATH_PART.match(part):
            raise ManifestError(
                f"--images {value!r}: path part {part!r} is not a valid repository name; "
                "use lowercase letters, digits and . _ - (e.g. mirror.example:5000/edge)"
            )
    return prefix


def mirror_reference(prefix: str, reference: str) -> str:
    """Rewrite a Docker Hub short name below a mirror `prefix` (rule in the module docstring).

    Raises:
        ManifestError: `reference` already names a registry, so it is not a Docker Hub short name.
    """
    first = reference.split("/", 1)[0]
    if "/" in reference and ("." in first or ":" in first or first == "localhost"):
        raise ManifestError(
            f"image {reference!r} already names a registry; write catalog images as Docker Hub short names"
        )
    path = reference if "/" in reference else f"library/{reference}"
    return f"{prefix}/{path}"


def runtime_reference(ref: str) -> str:
    """`ref` as containerd and the kubelet name it: ``postgres:18`` → ``docker.io/library/postgres:18``.

    A reference whose first path part names a registry (a dot, a port, or ``localhost``) keeps its
    host; an untagged one gets ``:latest``; a digest stays as it is.
    """
    name, _, digest = ref.partition("@")
    first, _, rest = name.partition("/")
    if not rest:
        name = f"{DOCKER_HUB}/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"{DOCKER_HUB}/{name}"
    if digest:
        return f"{name}@{digest}"
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


@dataclass(frozen=True)
class ImageSource:
    """A parsed `--images` value: ``upstream``, ``lab`` or a mirror prefix."""

    kind: ImageSourceKind
    prefix: str = ""

    def __post_init__(self) -> None:
        if (self.kind == "mirror") != bool(self.prefix):
            raise ManifestError(
                f"ImageSource({self.kind!r}, {self.prefix!r}): a prefix goes with kind 'mirror' only; "
                "build it with ImageSource.parse"
            )

    @classmethod
    def parse(cls, value: str) -> ImageSource:
        """Parse an `--images` option value.

        Raises:
            ManifestError: One line naming the value and listing the valid forms.
        """
        if value == "upstream":
            return cls("upstream")
        if value == "lab":
            return cls("lab")
        if not value.strip():
            raise ManifestError(f"--images is empty; use {_forms()}")
        return cls("mirror", _parse_prefix(value))

    def __str__(self) -> str:
        return self.prefix if self.kind == "mirror" else self.kind

    @property
    def pull_policy(self) -> str:
        """``Never`` for lab images (built locally), ``IfNotPresent`` otherwise."""
        return "Never" if self.kind == "lab" else "IfNotPresent"

    @property
    def patch_name(self) -> str:
        """The stem of this source's patch file under ``images/`` (mirrors share upstream's)."""
        return "lab" if self.kind == "lab" else "upstream"

    def reference(self, *, upstream: str, lab: str) -> str:
        """Return the image reference to run for a catalog entry."""
        if self.kind == "lab":
            return lab
        return mirror_reference(self.prefix if self.kind == "mirror" else DOCKER_HUB, upstream)
