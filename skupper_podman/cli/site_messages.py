"""The CLI's sentences about a site, as Skupper 1.5 words them.

In the default namespace they are exactly 1.5's; a named namespace is named in them
(``... for user 'root' in namespace 'west'``) and in the commands they suggest.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from skupper_podman.paths import DEFAULT_NAMESPACE, username

if TYPE_CHECKING:
    from skupper_podman.systemd.boot import BootStatus


def for_user(namespace: str) -> str:
    """``user 'root'``, plus ``in namespace 'west'`` when the namespace is not the default."""
    where = "" if namespace == DEFAULT_NAMESPACE else f" in namespace '{namespace}'"
    return f"user '{username()}'{where}"


def command(text: str, namespace: str) -> str:
    """``skupper <text>``, with ``-n <namespace>`` when it is not the default."""
    return f"skupper {text}" + ("" if namespace == DEFAULT_NAMESPACE else f" -n {namespace}")


def not_enabled(namespace: str, leftovers: bool = False) -> str:
    lines = [f"Skupper is not enabled for {for_user(namespace)}"]
    if leftovers:
        lines += ["There are podman resources missing or left from an earlier installation",
                  f"To clean them up, run: {command('delete', namespace)}"]
    return "\n".join(lines)


def already_initialized(namespace: str) -> str:
    return f"Skupper has already been initialized for {for_user(namespace)}."


def installed(namespace: str) -> str:
    return (f"Skupper is now installed for {for_user(namespace)}.  "
            f"Use '{command('status', namespace)}' to get more information.")


def removed(namespace: str) -> str:
    return f"Skupper is now removed for {for_user(namespace)}."


def boot_line(boot: BootStatus) -> str:
    """Whether the site starts at boot, why, and what to run when it does not."""
    kind = "system unit" if boot.system else "user unit"
    facts = f"{kind} {boot.unit} is {boot.unit_state.replace('not-found', 'not installed')}"
    if boot.lingering is not None:
        facts += f", lingering is {'on' if boot.lingering else 'off'} for {boot.user}"
    if boot.starts_at_boot:
        return f"The site starts at boot ({facts})."
    return f"The site does not start at boot ({facts})." + (f" To fix, run: {boot.fix}" if boot.fix else "")


def linger_enabled(user: str, changed: bool) -> str:
    return f"Lingering is {'now' if changed else 'already'} enabled for '{user}': their user units start at boot without a login."
