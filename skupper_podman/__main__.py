"""``python -m skupper_podman`` runs the CLI."""
from .cli import main

main()
