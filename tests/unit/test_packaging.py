"""The wheel ships every package of the tree and the template folders."""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_of_the_tree_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    tree = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "skupper_podman").rglob("__init__.py")
            if "__pycache__" not in init.parts}
    assert tree - listed == set()
    assert {"skupper_podman._data.templates", "skupper_podman._data.systemd_units"} <= listed


def test_the_version_has_one_source():
    from importlib import metadata

    from skupper_podman.versions import CLIENT_VERSION, client_version

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"]["attr"] == "skupper_podman.versions.CLIENT_VERSION"
    assert client_version() == CLIENT_VERSION == metadata.version("skupper-podman")
