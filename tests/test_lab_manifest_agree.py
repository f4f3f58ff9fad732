"""The manifest's lab image catalog and the lab builder name the same images."""

from __future__ import annotations

import lab
import manifests
from lab import pins


def test_every_lab_reference_in_the_manifest_is_one_the_lab_builds() -> None:
    built = set(lab.image_refs().values())
    objects = manifests.render(release="4.0", distro="podman", images=manifests.ImageSource.parse("lab"), run_id="r")
    wanted = set(manifests.image_refs(objects).values())
    wanted |= {refs.lab for refs in manifests.release_info("4.0").security_images.values()}
    assert wanted <= built, f"the manifest wants lab images the builder does not make: {sorted(wanted - built)}"
    assert wanted == built, f"the builder makes images the manifest never uses: {sorted(built - wanted)}"


def test_every_security_image_is_the_edgex_compose_release_the_lab_builds() -> None:
    info = manifests.release_info("4.0")
    loaded = pins.load()
    security_services = {name: refs for name, refs in info.security_images.items() if name.startswith("security-")}
    assert set(security_services) == {name for name in loaded.services if name.startswith("security-")}
    assert loaded.openbao is not None
    assert (
        info.security_images["secret-store"].upstream
        == f"openbao/openbao:{loaded.openbao.version}"
        == ("openbao/openbao:2.4.4")
    ), "the secret store edgex-compose v4.0.1's secure compose runs"
    assert info.security_images["secret-store"].lab == lab.image_refs()["openbao"]
    for name, refs in security_services.items():
        module = loaded.services[name].module
        assert refs.upstream == f"edgexfoundry/{name}:{info.edgex_version}"
        assert refs.lab == f"{lab.LAB_PREFIX}/{name}:{module.release}" and module.release == info.edgex_version


def test_every_edgex_image_is_the_published_release_the_lab_builds() -> None:
    info = manifests.release_info("4.0")
    loaded = pins.load()
    for service in info.services:
        refs = info.images[service.container]
        upstream_tag, lab_tag = refs.upstream.rpartition(":")[2], refs.lab.rpartition(":")[2]
        module = loaded.services[service.name].module
        assert upstream_tag == lab_tag == module.release == info.edgex_version, service.name
        assert module.tag == f"v{upstream_tag}", f"{service.name}: the upstream tag is the module's release tag"
        assert refs.upstream == f"edgexfoundry/{service.name}:{upstream_tag}"


def test_third_party_images_are_the_ones_edgex_compose_v4_0_1_pins() -> None:
    images = manifests.release_info("4.0").images
    assert images["database"].upstream == "postgres:18.1-alpine3.22"
    assert images["mqtt-broker"].upstream == "eclipse-mosquitto:2.0.22"
    assert images["gateway"].upstream == "nginx:1.29.3-alpine3.22-slim"
