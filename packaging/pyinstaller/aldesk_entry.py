"""The frozen app's entry point: the same ``aldesk`` command the wheel installs."""

import multiprocessing
import sys

if __name__ == "__main__":
    # The learning worker's child process is started with "spawn", which in a frozen app runs
    # this executable again; freeze_support turns that run into the child before any argument
    # parsing. (aldesk.cli.main calls it too; calling it first here keeps the bundle safe even
    # if that changes.)
    multiprocessing.freeze_support()
    from aldesk.cli import main

    sys.exit(main())
