"""Locate the shipped ``templates/`` and ``systemd-units/`` folders.

In a wheel they live inside the package (``skupper_podman/_data/...``); in a source checkout or
an editable install they are the top-level folders of the repository.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a template is rendered: reading a site needs no Jinja
    import jinja2

_FOLDERS = {"templates": "templates", "systemd-units": "systemd_units"}


@lru_cache(maxsize=None)
def resource_dir(kind: str) -> Path:
    """The directory for ``kind`` (``"templates"`` or ``"systemd-units"``)."""
    from importlib.resources import files  # ~1 ms, paid only by commands that render

    shipped = files("skupper_podman").joinpath("_data", _FOLDERS[kind])
    checkout = Path(str(files("skupper_podman"))).parent / kind
    for candidate in (Path(str(shipped)), checkout):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"skupper-podman is missing its {kind} folder")


@lru_cache(maxsize=None)
def jinja_env(kind: str) -> jinja2.Environment:
    """A strict Jinja environment over one resource folder (undefined names are errors)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir(kind))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
