"""The lab cluster's certificates and keys, made with ``openssl`` (P-256 keys: instant to generate).

One CA signs everything: the apiserver's serving certificate, one client certificate per identity (admin,
controller-manager, scheduler, kubelet, apiserver-to-kubelet, front proxy) and the serving certificates of the
kubelet (so that the apiserver verifies it for ``exec`` and ``logs``) and of the controller-manager and scheduler.
A separate key pair signs service-account tokens.
Private keys are written 0600.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import proc
from lab.cluster import layout

OPENSSL_TIMEOUT_S = 30.0
CA_DAYS = 3650
LEAF_DAYS = 825
FRONT_PROXY_CLIENT = "front-proxy-client"
"""The apiserver's identity towards aggregated APIs; also the only name allowed to send request headers."""

_CA_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = edgex-smoke-lab-ca
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
"""


@dataclass(frozen=True)
class Leaf:
    """One certificate to issue: file stem, subject, SANs and whether it serves or authenticates."""

    name: str
    common_name: str
    organization: str | None = None
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    server: bool = False

    def subject(self) -> str:
        """Return the subject in ``openssl -subj`` form."""
        org = f"/O={self.organization}" if self.organization else ""
        return f"{org}/CN={self.common_name}"

    def extensions(self) -> str:
        """Return the ``[v3]`` section for ``openssl x509 -extfile``."""
        usage = "serverAuth" if self.server else "clientAuth"
        lines = [
            "[v3]",
            "basicConstraints = critical, CA:FALSE",
            "keyUsage = critical, digitalSignature, keyEncipherment",
            f"extendedKeyUsage = {usage}",
            "authorityKeyIdentifier = keyid",
        ]
        sans = [f"DNS:{d}" for d in self.dns_names] + [f"IP:{i}" for i in self.ip_addresses]
        if sans:
            lines.append("subjectAltName = " + ", ".join(sans))
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Pki:
    """Paths of the files `ensure` writes."""

    dir: Path

    def cert(self, name: str) -> Path:
        """Return the certificate of `name` (``ca``, ``apiserver``, ``admin``…)."""
        return self.dir / f"{name}.crt"

    def key(self, name: str) -> Path:
        """Return the private key of `name`."""
        return self.dir / f"{name}.key"

    @property
    def ca(self) -> Path:
        """The CA certificate every component trusts."""
        return self.cert("ca")

    @property
    def sa_key(self) -> Path:
        """The service-account token signing key."""
        return self.dir / "sa.key"

    @property
    def sa_pub(self) -> Path:
        """The service-account token verification key."""
        return self.dir / "sa.pub"


def leaves(node_name: str, node_ip: str) -> list[Leaf]:
    """Return every certificate the cluster needs for node `node_name` at `node_ip`."""
    return [
        Leaf(
            "apiserver",
            "kube-apiserver",
            dns_names=(
                "localhost",
                node_name,
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ),
            ip_addresses=("127.0.0.1", node_ip, layout.SERVICE_IP),
            server=True,
        ),
        Leaf("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"),
        Leaf("front-proxy-client", FRONT_PROXY_CLIENT),
        # kube-controller-manager's and kube-scheduler's /healthz, so that readiness checks verify TLS too.
        Leaf("loopback-serving", "localhost", dns_names=("localhost",), ip_addresses=("127.0.0.1",), server=True),
        Leaf("admin", "edgex-smoke-admin", "system:masters"),
        Leaf("controller-manager", "system:kube-controller-manager"),
        Leaf("scheduler", "system:kube-scheduler"),
        Leaf("kubelet-client", f"system:node:{node_name}", "system:nodes"),
        Leaf(
            "kubelet-serving",
            node_name,
            dns_names=(node_name, "localhost"),
            ip_addresses=(node_ip, "127.0.0.1"),
            server=True,
        ),
    ]


def _openssl(args: Sequence[str | Path]) -> None:
    proc.run(["openssl", *map(str, args)], timeout_s=OPENSSL_TIMEOUT_S, package="openssl")


def _new_key(path: Path) -> None:
    """Write a new P-256 private key to `path`, readable by its owner only."""
    path.unlink(missing_ok=True)
    old = os.umask(0o077)
    try:
        _openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path])
    finally:
        os.umask(old)
    path.chmod(0o600)


def _issue(pki: Pki, leaf: Leaf, work: Path) -> None:
    """Write ``<name>.key`` and ``<name>.crt`` for `leaf`, signed by the CA."""
    key, csr, ext = pki.key(leaf.name), work / f"{leaf.name}.csr", work / f"{leaf.name}.ext"
    _new_key(key)
    _openssl(["req", "-new", "-key", key, "-subj", leaf.subject(), "-out", csr])
    ext.write_text(leaf.extensions())
    serial = f"0x{secrets.randbits(63):x}"
    _openssl(
        [
            "x509", "-req", "-in", csr, "-CA", pki.ca, "-CAkey", pki.key("ca"), "-set_serial", serial,
            "-days", str(LEAF_DAYS), "-sha256", "-extfile", ext, "-extensions", "v3", "-out", pki.cert(leaf.name),
        ]
    )  # fmt: skip


def ensure(directory: Path, node_name: str, node_ip: str) -> Pki:
    """Create the CA, every leaf certificate and the service-account key pair in `directory`.

    Existing files are replaced: the state directory is new at every cold start.
    """
    pki = Pki(directory)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    work = directory / "requests"
    work.mkdir(exist_ok=True)
    _new_key(pki.key("ca"))
    ca_config = work / "ca.cnf"
    ca_config.write_text(_CA_CONFIG)
    _openssl(
        [
            "req", "-x509", "-new", "-config", ca_config, "-extensions", "v3_ca", "-key", pki.key("ca"),
            "-days", str(CA_DAYS), "-sha256", "-out", pki.ca,
        ]
    )  # fmt: skip
    for leaf in leaves(node_name, node_ip):
        _issue(pki, leaf, work)
    _new_key(pki.sa_key)
    _openssl(["pkey", "-in", pki.sa_key, "-pubout", "-out", pki.sa_pub])
    return pki
