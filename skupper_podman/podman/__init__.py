"""Podman adapter: the only place that imports podman-py."""
