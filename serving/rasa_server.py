"""The Rasa server's launcher: the project's patches first, then Rasa's own command line.

`python -m serving.rasa_server run ...` takes exactly the arguments of
`rasa run ...`. It installs serving/patches.py (which refuses an unknown Rasa
release) in the server's process before Rasa loads anything, so the patches
are there by construction rather than as a side effect of a channel being
built. scripts/run.py starts every Rasa server this way.

The HTTP API token never goes on the command line, where `ps` shows it to
every user of the machine: the supervisor passes it in `RASA_AUTH_TOKEN`,
which this launcher removes from the environment and hands to Rasa's
argument parser in-process (the process's visible command line is fixed at
start).
"""

from __future__ import annotations

import os
import sys

from serving import patches

TOKEN_ENV = "RASA_AUTH_TOKEN"


def main(argv: list[str] | None = None) -> None:
    try:
        patches.install()
    except patches.UnknownRasaVersion as error:
        sys.exit(str(error))
    from rasa.__main__ import main as rasa_main

    arguments = list(sys.argv[1:] if argv is None else argv)
    token = os.environ.pop(TOKEN_ENV, "")
    if token and "--auth-token" not in arguments:
        arguments += ["--auth-token", token]
    sys.argv = ["rasa", *arguments]
    rasa_main()


if __name__ == "__main__":
    main()
