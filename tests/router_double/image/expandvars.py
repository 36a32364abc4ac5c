#!/usr/bin/python3
"""expandvars.py FILE: expand $VAR and ${VAR} in place on every line not starting with '#'.

Unset variables are left as written (os.path.expandvars semantics).
"""
import os
import sys


def expand_file(path: str) -> None:
    with open(path, encoding="utf-8") as src:
        lines = src.readlines()
    expanded = [line if line.lstrip().startswith("#") else os.path.expandvars(line) for line in lines]
    with open(path, "w", encoding="utf-8") as dst:
        dst.writelines(expanded)


if __name__ == "__main__":
    expand_file(sys.argv[1])
