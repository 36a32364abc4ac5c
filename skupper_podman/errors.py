"""One exception family for the whole library.

Every error carries a one-line, user-facing message naming what is at fault (file, flag,
namespace); the CLI prints ``str(err)`` and exits with ``err.exit_code`` (1). Nothing below the
CLI prints or exits. The families:

- :class:`InputError`: what the user gave (names, ports, flags, files, tokens);
- :class:`PodmanError`: Podman (unreachable, a failed call, a missing image);
- :class:`RouterError`: the site router (not answering, a refused management request);
- :class:`SystemdError`: systemd units and ``systemctl``;
- :class:`StateError`: the site's own state (missing, damaged, already there, a taken resource).
"""
from __future__ import annotations


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


class SkupperError(Exception):
    """Base of every error the library raises on purpose; its message is one line."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message))

    @property
    def message(self) -> str:
        return str(self)


# -- input -------------------------------------------------------------------------------------

class InputError(SkupperError):
    """Bad user input: names, ports, flag values, files, tokens."""


class PlatformError(InputError):
    """The selected platform is invalid or not implemented by this tool."""


# -- podman ------------------------------------------------------------------------------------

class PodmanError(SkupperError):
    """A Podman API call failed."""


class PodmanUnavailable(PodmanError):
    """The Podman API endpoint cannot be reached or is too old."""


class ImageUnavailable(PodmanError):
    """The router image is neither present nor pullable."""


# -- router ------------------------------------------------------------------------------------

class RouterError(SkupperError):
    """The site router failed us."""


class RouterUnavailable(RouterError):
    """The site router is not running or does not answer management requests."""


class ManagementError(RouterError):
    """The router answered a management request with a status outside 2xx."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


# -- systemd -----------------------------------------------------------------------------------

class SystemdError(SkupperError):
    """systemd could not be used (not running, or a systemctl call failed)."""


# -- the site's own state ----------------------------------------------------------------------

class StateError(SkupperError):
    """The site's state on this host stops the operation."""


class NotInitialized(StateError):
    """The command needs a site, and there is none."""


class SiteExists(StateError):
    """``init`` found a site already in place (1.5 exits 0 here; scripts need to see it)."""


class ResourceConflict(StateError):
    """A resource the operation needs is taken (port, container, volume, network)."""


class DamagedState(StateError):
    """A file or volume of the site is missing, truncated or unreadable."""


class Interrupted(SkupperError):
    """The operation was stopped by a signal (SIGTERM, SIGINT) and rolled back."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"interrupted by {signal_name}; everything created so far was removed")
