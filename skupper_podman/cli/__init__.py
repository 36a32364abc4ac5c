"""The ``skupper`` command line: parse, call the library, print."""


def main() -> None:
    from skupper_podman.cli.app import run

    run()
