"""One exception family for the whole library.

Every error carries a one-line, user-facing message; the CLI prints ``str(err)`` and exits
with ``err.exit_code``. Nothing below the CLI prints or exits.
"""
from __future__ import annotations


class SkupperError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()) if "\n" not in message else message)

    @property
    def message(self) -> str:
        return str(self)


class InputError(SkupperError):
    """Bad user input: names, ports, flag values, files, tokens."""


class PlatformError(SkupperError):
    """The selected platform is invalid or not implemented by this tool."""


class PodmanUnavailable(SkupperError):
    """The Podman API endpoint cannot be reached or is too old."""


class PodmanError(SkupperError):
    """A Podman API call failed."""


class NotInitialized(SkupperError):
    """The command needs a site, and there is none."""


class SiteExists(SkupperError):
    """``init`` found a site already in place (1.5 exits 0 here; scripts need to see it)."""


class ResourceConflict(SkupperError):
    """A resource the operation needs is taken (port, container, volume, network)."""


class ImageUnavailable(SkupperError):
    """The router image is neither present nor pullable."""


class RouterUnavailable(SkupperError):
    """The site router is not running or does not answer management requests."""


class ManagementError(SkupperError):
    """The router answered a management request with a status outside 2xx."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class SystemdError(SkupperError):
    """systemd could not be used (not running, or a systemctl call failed)."""
