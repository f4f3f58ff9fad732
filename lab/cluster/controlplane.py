"""Command lines of kube-apiserver, kube-controller-manager and kube-scheduler for the lab cluster."""

from __future__ import annotations

from pathlib import Path

from lab.cluster import etcd, layout
from lab.cluster.layout import Layout
from lab.cluster.pki import FRONT_PROXY_CLIENT, Pki

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


def kubeconfig(state: Layout, identity: str) -> Path:
    """Return the kubeconfig file of `identity` (``admin``, ``controller-manager``, ``scheduler``, ``kubelet``)."""
    return state.kubeconfigs / f"{identity}.kubeconfig"


def apiserver_argv(bindir: Path, state: Layout, pki: Pki, node_ip: str) -> list[str]:
    """Return kube-apiserver's command line: secure port on every address, RBAC and the Node authorizer."""
    return [
        str(bindir / "kube-apiserver"),
        f"--advertise-address={node_ip}",
        "--bind-address=0.0.0.0",
        f"--secure-port={layout.APISERVER_PORT}",
        f"--etcd-servers={etcd.client_url()}",
        f"--service-cluster-ip-range={layout.SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true",
        f"--client-ca-file={pki.ca}",
        f"--tls-cert-file={pki.cert('apiserver')}",
        f"--tls-private-key-file={pki.key('apiserver')}",
        f"--kubelet-client-certificate={pki.cert('apiserver-kubelet-client')}",
        f"--kubelet-client-key={pki.key('apiserver-kubelet-client')}",
        f"--kubelet-certificate-authority={pki.ca}",
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--requestheader-client-ca-file={pki.ca}",
        f"--requestheader-allowed-names={FRONT_PROXY_CLIENT}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki.cert('front-proxy-client')}",
        f"--proxy-client-key-file={pki.key('front-proxy-client')}",
        f"--cert-dir={state.pki / 'apiserver'}",
        "--profiling=false",
    ]


def _component_common(state: Layout, pki: Pki, identity: str, port: int) -> list[str]:
    config = kubeconfig(state, identity)
    return [
        f"--kubeconfig={config}",
        f"--authentication-kubeconfig={config}",
        f"--authorization-kubeconfig={config}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--tls-cert-file={pki.cert('loopback-serving')}",
        f"--tls-private-key-file={pki.key('loopback-serving')}",
        f"--client-ca-file={pki.ca}",
        f"--requestheader-client-ca-file={pki.ca}",
        "--leader-elect=false",
        "--profiling=false",
    ]


def controller_manager_argv(bindir: Path, state: Layout, pki: Pki) -> list[str]:
    """Return kube-controller-manager's command line; it allocates each node's pod CIDR."""
    return [
        str(bindir / "kube-controller-manager"),
        *_component_common(state, pki, "controller-manager", layout.CONTROLLER_MANAGER_PORT),
        f"--cluster-cidr={layout.CLUSTER_CIDR}",
        "--allocate-node-cidrs=true",
        f"--node-cidr-mask-size={layout.NODE_CIDR_MASK}",
        f"--service-cluster-ip-range={layout.SERVICE_CIDR}",
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.ca}",
        "--use-service-account-credentials=true",
        # Each controller first gets its own service account and token; at the default 20 QPS starting them all
        # took ~4 s and held back the node's pod CIDR.
        "--kube-api-qps=100",
        "--kube-api-burst=200",
        f"--cluster-signing-cert-file={pki.ca}",
        f"--cluster-signing-key-file={pki.key('ca')}",
    ]


def scheduler_argv(bindir: Path, state: Layout, pki: Pki) -> list[str]:
    """Return kube-scheduler's command line."""
    return [str(bindir / "kube-scheduler"), *_component_common(state, pki, "scheduler", layout.SCHEDULER_PORT)]
