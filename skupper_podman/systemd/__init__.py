"""Start-up at boot: start/stop scripts and systemd units rendered from ``systemd-units/``,
their install and removal, and lingering (``units``)."""
