"""The manifest's lab image catalog and the lab builder name the same images."""

from __future__ import annotations

import lab
import manifests


def test_every_lab_reference_in_the_manifest_is_one_the_lab_builds() -> None:
    built = set(lab.image_refs().values())
    objects = manifests.render(release="4.0", distro="podman", images=manifests.ImageSource.parse("lab"), run_id="r")
    wanted = set(manifests.image_refs(objects).values())
    assert wanted <= built, f"the manifest wants lab images the builder does not make: {sorted(wanted - built)}"
    assert wanted == built, f"the builder makes images the manifest never uses: {sorted(built - wanted)}"
