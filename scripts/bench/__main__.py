"""`python -m scripts.bench`."""

from scripts.bench.cli import main

raise SystemExit(main())
