"""Build a single-node upstream Kubernetes (and etcd) from Go modules on an offline machine."""
