"""skupper-podman: a Podman-native Skupper 1.5 site manager."""
from .errors import SkupperError

__all__ = ["SkupperError"]
