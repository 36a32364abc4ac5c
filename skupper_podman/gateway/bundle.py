"""Gateway bundles: ``<name>.tar.gz`` for a machine that has no skupper CLI.

The archive holds the gateway YAML, the router config (``${QDR_CONF_DIR}`` stands for the
directory the router reads), the gateway's client credential, a systemd user unit and two
shell scripts named as in 1.5: ``sh ./launch.py [-t service|docker|podman]`` and
``sh ./remove.py``. The scripts use the site's router image unless ``QDROUTERD_IMAGE`` says
otherwise.
"""
from __future__ import annotations

import io
import os
import tarfile
import tempfile
import time
from pathlib import Path

from skupper_podman.errors import InputError
from skupper_podman.gateway.model import Gateway
from skupper_podman.gateway.routerconf import CERTS_SUBDIR, CONFIG_PATH, CONTAINER_DIR
from skupper_podman.paths import NAMESPACE_LABEL, SiteLayout
from skupper_podman.pki import Credential
from skupper_podman.resources import jinja_env

SCRIPT_MODE = 0o755
SECRET_MODE = 0o600
PUBLIC_MODE = 0o644


def bundle_files(gateway: Gateway, credential: Credential, router_config: str,
                 layout: SiteLayout) -> dict[str, tuple[bytes, int]]:
    """Archive path -> (content, mode) of a gateway's bundle."""
    env = jinja_env("templates")
    values = {"name": gateway.name, "image": gateway.image, "site_id": gateway.site_id,
              "container_dir": CONTAINER_DIR, "config_path": CONFIG_PATH, "certs_subdir": CERTS_SUBDIR,
              "namespace_label": NAMESPACE_LABEL, "namespace": layout.namespace}
    files: dict[str, tuple[bytes, int]] = {
        f"{gateway.name}.yaml": (gateway.config.to_yaml().encode(), PUBLIC_MODE),
        CONFIG_PATH: (router_config.encode(), PUBLIC_MODE),
        f"service/{gateway.name}.service": (
            env.get_template("gateway-bundle.service.j2").render(**values).encode(), PUBLIC_MODE),
        "launch.py": (env.get_template("gateway-launch.sh.j2").render(**values).encode(), SCRIPT_MODE),
        "remove.py": (env.get_template("gateway-remove.sh.j2").render(**values).encode(), SCRIPT_MODE),
    }
    for name, data in credential.files().items():
        files[f"{CERTS_SUBDIR}/{name}"] = (data, SECRET_MODE if name.endswith(".key") else PUBLIC_MODE)
    return files


def write_bundle(gateway: Gateway, credential: Credential, router_config: str, directory: Path,
                 layout: SiteLayout) -> Path:
    """Write ``<directory>/<name>.tar.gz`` (0600: it grants access to the network)."""
    target = directory / f"{gateway.name}.tar.gz"
    buffer = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, (data, mode) in sorted(bundle_files(gateway, credential, router_config, layout).items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), mode, now
            archive.addfile(info, io.BytesIO(data))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), SECRET_MODE)
            handle.write(buffer.getvalue())
        os.replace(tmp, target)
    except OSError as err:
        raise InputError(f"Unable to create download file: {target}: {err.strerror or err}") from None
    return target
