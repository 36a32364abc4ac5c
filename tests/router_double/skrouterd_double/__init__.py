"""A stand-in for skupper-router 2.5.3 used by the tests (runs with plain python3)."""
