"""The Rasa server's launcher: the project's patches first, then Rasa's own command line.

`python -m serving.rasa_server run ...` takes exactly the arguments of
`rasa run ...`. It installs serving/patches.py (which refuses an unknown Rasa
release) in the server's process before Rasa loads anything, so the patches
are there by construction rather than as a side effect of a channel being
built. scripts/run.py starts every Rasa server this way.
"""

from __future__ import annotations

import sys

from serving import patches


def main(argv: list[str] | None = None) -> None:
    try:
        patches.install()
    except patches.UnknownRasaVersion as error:
        sys.exit(str(error))
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
