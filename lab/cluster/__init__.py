"""Build a single-node upstream Kubernetes (and etcd) from Go modules on an offline machine."""

from lab.cluster.api import LocalCluster, down, load_images, status, up

__all__ = ["LocalCluster", "down", "load_images", "status", "up"]
