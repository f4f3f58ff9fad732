"""A tiny pod for driver tests: one container from the lab infra image, a ConfigMap and a hostPort."""

from __future__ import annotations

from typing import Any


def small_pod(
    image: str, *, name: str, host_port: int, run_id: str, pull_policy: str = "Never"
) -> list[dict[str, Any]]:
    """A ConfigMap and a Pod that serves the ConfigMap's file on `host_port` with nginx."""
    labels = {"app.kubernetes.io/managed-by": "edgex-smoke", "edgex-smoke/run-id": run_id}
    conf = (
        "daemon off; pid /tmp/nginx.pid; error_log stderr;\n"
        "events {}\n"
        "http { access_log off; client_body_temp_path /tmp/b; proxy_temp_path /tmp/p; fastcgi_temp_path /tmp/f;\n"
        "  uwsgi_temp_path /tmp/u; scgi_temp_path /tmp/s;\n"
        "  server { listen 8080; location / { root /etc/demo; } } }\n"
    )
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-conf", "labels": labels},
            "data": {"nginx.conf": conf, "hello.txt": "hello from the configmap\n"},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": image,
                        "imagePullPolicy": pull_policy,
                        "command": ["nginx", "-c", "/etc/demo/nginx.conf"],
                        "ports": [{"name": "http", "containerPort": 8080, "hostPort": host_port}],
                        "volumeMounts": [{"name": "conf", "mountPath": "/etc/demo"}],
                    }
                ],
                "volumes": [{"name": "conf", "configMap": {"name": f"{name}-conf"}}],
            },
        },
    ]
