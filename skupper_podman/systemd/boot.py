"""Whether a site starts at boot: its unit enabled and, for a user's site, lingering on."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


def linger_command(user: str) -> str:
    """What root runs so ``user``'s units start at boot without a login."""
    return f"loginctl enable-linger {user}"


@dataclass(frozen=True)
class BootStatus:
    """The boot facts of one site's unit, and the command that would make it start at boot."""

    unit: str
    system: bool
    user: str
    unit_state: str
    lingering: bool | None  # None for system units: they need no lingering
    starts_at_boot: bool = field(init=False)
    fix: str | None = field(init=False)

    def __post_init__(self) -> None:
        enabled = self.unit_state == "enabled"
        object.__setattr__(self, "starts_at_boot", enabled and self.lingering is not False)
        if self.unit_state in ("not-found", "masked", "masked-runtime"):
            fix = None  # nothing to enable: the unit is gone or masked on purpose
        elif not enabled:
            fix = f"systemctl {'' if self.system else '--user '}enable {self.unit}"
        elif self.lingering is False:
            fix = linger_command(self.user)
        else:
            fix = None
        object.__setattr__(self, "fix", fix)

    def to_dict(self) -> dict:
        return asdict(self)
