"""Lab image names: ``localhost/edgex-smoke-lab/<component>:<tag>``.

The prefix can never be mistaken for an upstream ``edgexfoundry/<svc>:<ver>`` image.
"""

from __future__ import annotations

from harness import labels

LAB_PREFIX = "localhost/edgex-smoke-lab"
INFRA = "infra"
OPENBAO = "openbao"
LABEL_LAB = labels.IMAGE_LAB
LABEL_PIN = labels.IMAGE_PIN
LABEL_KEY = "io.edgex-smoke.builder-hash"


def image_ref(component: str, tag: str) -> str:
    """Return the lab image reference of `component` at `tag`."""
    if not component or "/" in component or ":" in component:
        raise ValueError(f"lab image component {component!r}: must be a bare name such as 'core-data'")
    if not tag or "/" in tag or ":" in tag:
        raise ValueError(f"lab image tag {tag!r} of {component}: must be a bare tag such as '4.0.2'")
    return f"{LAB_PREFIX}/{component}:{tag}"


def is_lab_ref(ref: str) -> bool:
    """Tell whether `ref` names a lab image (and so never an upstream one)."""
    return ref.startswith(LAB_PREFIX + "/")
