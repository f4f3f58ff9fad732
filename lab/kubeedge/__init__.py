"""The lab KubeEdge: cloudcore on the lab cluster and this host as an edge node (see api.py)."""
