"""``python -m skupper_podman.cli`` runs the CLI."""
from . import main

main()
