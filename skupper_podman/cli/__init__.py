"""The ``skupper`` command line: parse, call the library, print."""


def main() -> None:
    from .app import run

    run()
