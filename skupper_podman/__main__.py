"""``python -m skupper_podman`` runs the CLI."""
from skupper_podman.cli import main

main()
