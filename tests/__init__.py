"""The harness's own tests: real components, never a cluster."""
