"""Command-line programs: the supervisor (`clinic-run`), the widget's page server,
the evaluation and benchmark reports, data validation.  Installed as console
entry points by pyproject.toml; they import the core and the servers' packages,
never the other way round."""
