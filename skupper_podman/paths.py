"""Where things live: XDG directories, namespaces and the resource names of a site.

The default namespace uses exactly Skupper 1.5's names (network ``skupper``, container
``skupper-router``, volumes ``skupper-site-ca``, ...) and data directory
(``$XDG_DATA_HOME/skupper``). A named namespace ``N`` prefixes every resource with ``N-`` and
keeps its files under ``$XDG_DATA_HOME/skupper/namespaces/N``, so several sites can live side by
side for one user.
"""
from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass
from pathlib import Path

from skupper_podman.errors import InputError

DEFAULT_NAMESPACE = "default"
APP_LABEL = "application"
APP_VALUE = "skupper"
NAMESPACE_LABEL = "skupper-podman.io/namespace"
COMPONENT_LABEL = "skupper.io/component"
TYPE_LABEL = "skupper.io/type"
METADATA_LABEL = "internal.skupper.io/metadata"
ADDRESS_LABEL = "skupper.io/address"

_NAMESPACE_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")

# The volumes of a 1.5 site (base names; a named namespace prefixes them). The one home of
# these names: the site, links and services import them from here.
LOCAL_CA, SITE_CA, SERVICE_CA = "skupper-local-ca", "skupper-site-ca", "skupper-service-ca"
LOCAL_SERVER, LOCAL_CLIENT = "skupper-local-server", "skupper-local-client"
SERVICE_CLIENT, CONSOLE_CERTS, SITE_SERVER = "skupper-service-client", "skupper-console-certs", "skupper-site-server"
INTERNAL, SERVICES, ROUTER_CERTS = "skupper-internal", "skupper-services", "skupper-router-certs"
# in creation order: CAs, credentials, then the rest
CA_VOLUMES = (LOCAL_CA, SITE_CA, SERVICE_CA)
CREDENTIAL_VOLUMES = (LOCAL_SERVER, LOCAL_CLIENT, SERVICE_CLIENT, CONSOLE_CERTS, SITE_SERVER)
OTHER_VOLUMES = (INTERNAL, SERVICES, ROUTER_CERTS)


def username() -> str:
    """The OS user name with whitespace removed, as 1.5 prints it in every message."""
    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry and no env var
        name = os.environ.get("USER") or os.environ.get("USERNAME") or str(os.getuid())
    return "".join(name.split())


def is_root() -> bool:
    """True when running as root (system units, rootful Podman)."""
    return os.geteuid() == 0


def data_home(env: dict[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/skupper`` (default ``~/.local/share/skupper``)."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "share")
    return Path(base) / "skupper"


def config_home(env: dict[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME`` (default ``~/.config``)."""
    env = os.environ if env is None else env
    return Path(env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config"))


def runtime_dir(env: dict[str, str] | None = None) -> Path:
    """``$XDG_RUNTIME_DIR``, default ``/run/user/<uid>``."""
    env = os.environ if env is None else env
    return Path(env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}")


def validate_namespace(name: str) -> str:
    """``name`` if it is a valid namespace (``default``, or a short DNS label)."""
    if not isinstance(name, str):
        raise InputError(f"invalid namespace {name!r}")
    if name == DEFAULT_NAMESPACE or _NAMESPACE_RE.fullmatch(name):
        return name
    raise InputError(
        f"invalid namespace {name!r}: use 1-32 lower-case letters, digits and '-', "
        "starting and ending with a letter or digit"
    )


@dataclass(frozen=True)
class SiteLayout:
    """Names and directories of one site (one namespace)."""

    namespace: str = DEFAULT_NAMESPACE
    data_dir: Path | None = None

    def __post_init__(self) -> None:
        validate_namespace(self.namespace)
        if self.data_dir is None:
            root = data_home()
            path = root if self.is_default else root / "namespaces" / self.namespace
            object.__setattr__(self, "data_dir", path)

    @property
    def is_default(self) -> bool:
        return self.namespace == DEFAULT_NAMESPACE

    def name(self, base: str) -> str:
        """The resource name for a 1.5 base name (``skupper-router`` → ``west-skupper-router``)."""
        return base if self.is_default else f"{self.namespace}-{base}"

    @property
    def network(self) -> str:
        return self.name("skupper")

    @property
    def router_container(self) -> str:
        return self.name("skupper-router")

    @property
    def labels(self) -> dict[str, str]:
        """Labels every resource of this site carries."""
        return {APP_LABEL: APP_VALUE, NAMESPACE_LABEL: self.namespace}

    @property
    def label_filter(self) -> str:
        return f"{NAMESPACE_LABEL}={self.namespace}"

    @property
    def podman_yaml(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / "podman.yaml"

    @property
    def unit_name(self) -> str:
        return "skupper-podman.service" if self.is_default else f"skupper-podman-{self.namespace}.service"

    @property
    def start_script(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / "start-podman.sh"

    @property
    def stop_script(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / "stop-podman.sh"
