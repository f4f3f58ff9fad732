"""Offline lab images: real EdgeX 4.0.x services built from their Go modules, plus Debian infra.

Images are made with ``tar | podman import`` and named ``localhost/edgex-smoke-lab/<component>:<tag>``,
so they can never be mistaken for upstream ``edgexfoundry/<svc>:<ver>`` images. Build outputs live in
``${XDG_CACHE_HOME:-$HOME/.cache}/edgex-smoke/lab``; each step is skipped while its inputs are unchanged.
"""

from __future__ import annotations

from lab.api import ensure_images, ensure_infra_image, image_refs
from lab.naming import LAB_PREFIX

__all__ = ["LAB_PREFIX", "ensure_images", "ensure_infra_image", "image_refs"]
