"""``python -m skupper_podman.cli`` runs the CLI."""
from skupper_podman.cli import main

main()
