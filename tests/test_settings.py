"""One typed settings object: every variable declared once, read in one place, documented."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from clinic_core import settings
from tests.support import ROOT, SUPERVISOR, free_port

# Packages whose modules run in the assistant's processes.
PROJECT_PACKAGES = (
    "clinic_core",
    "actions",
    "components",
    "channels",
    "serving",
    "staff",
    "scripts",
)
README = ROOT / "README.md"
ENV_NAME = re.compile(r"`([A-Z][A-Z0-9_]{2,})`")
# Variables of other programs that README's tables mention in passing.
NOT_OURS = {"RASA_TELEMETRY_ENABLED"}


def environment_reads(path: Path) -> list[str]:
    """`os.environ.get("X")`, `os.environ["X"]`, `os.getenv("X")`: reads of a variable by name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = ast.unparse(node.func)
            if target in ("os.environ.get", "os.getenv", "environ.get") and node.args:
                found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("os.environ", "environ"):
            found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    return found


def test_no_module_but_settings_reads_the_environment_by_name() -> None:
    reads = []
    for package in PROJECT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path != ROOT / "clinic_core" / "settings.py":
                reads += environment_reads(path)
    assert reads == []


def test_the_read_check_sees_a_read(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\nA = os.environ.get('X', '1')\nB = os.environ['Y']\n")
    assert len(environment_reads(module)) == 2


def readme_table_variables() -> set[str]:
    names: set[str] = set()
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):  # a configuration table's row names its variables first
            first_cell = line.split("|")[1]
            names.update(ENV_NAME.findall(first_cell))
    return names - NOT_OURS


def test_readme_documents_exactly_the_declared_variables() -> None:
    documented = readme_table_variables()
    declared = set(settings.VARIABLES)
    assert sorted(declared - documented) == [], "declared but missing from README's tables"
    assert sorted(documented - declared) == [], "in README's tables but not declared"


def test_readme_numeric_defaults_are_the_declared_ones() -> None:
    defaults = settings.load({})
    checked = 0
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if len(cells) == 3 and re.fullmatch(r"`[A-Z_]+`", cells[0]):
            variable = cells[0].strip("`")
            number = re.fullmatch(r"`?(\d+)`?( s)?", cells[1])
            if number and variable in settings.VARIABLES:
                assert defaults.value(variable) == number.group(1), variable
                checked += 1
    assert checked >= 8


def test_defaults_and_derived_values() -> None:
    config = settings.load({"DATA_DIR": "/srv/clinic", "WIDGET_PORT": "9000"})
    assert config.database_url == "sqlite:////srv/clinic/clinic.db"
    assert config.tracker_store_url == "sqlite:////srv/clinic/conversations.db"
    assert config.widget_origins == "http://localhost:9000,http://127.0.0.1:9000"
    assert config.rasa_public_url == "http://localhost:5005"
    assert config.redis_url is None  # the default profile keeps options in the process
    assert config.staff_cookie_secure is True and config.smtp_starttls is False


def test_an_empty_variable_counts_as_unset() -> None:
    assert settings.load({"RASA_PORT": "", "SMTP_PORT": ""}).rasa_port == 5005


def test_the_production_profile_derives_its_addresses() -> None:
    config = settings.load(
        {
            "PROFILE": "production",
            "POSTGRES_PASSWORD": "p@ss",
            "TLS_CERT_FILE": "c",
            "TLS_KEY_FILE": "k",
        }
    )
    assert config.database_url == "postgresql://postgres:p%40ss@127.0.0.1:5432/clinic"
    assert config.redis_url == "redis://127.0.0.1:6379/1"
    assert config.rasa_public_url == "https://localhost:5005"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RASA_PORT", "abc"),
        ("RASA_PORT", "70000"),
        ("PROFILE", "staging"),
        ("RASA_PROCESSES", "0"),
        ("MAX_MESSAGE_CHARS", "-5"),
        ("STAFF_COOKIE_SECURE", "perhaps"),
        ("OUTBOX_BACKOFF_BASE", "soon"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(settings.SettingsError, match=variable):
        settings.load({variable: value})


def test_a_refusal_never_echoes_the_value() -> None:
    with pytest.raises(settings.SettingsError) as refused:
        settings.load({"SMTP_PORT": "hunter2-secret"})
    assert "hunter2" not in str(refused.value)


def test_secrets_do_not_print() -> None:
    config = settings.load({"SMTP_PASSWORD": "s3cret-value", "RASA_AUTH_TOKEN": "tok-value"})
    assert "s3cret" not in repr(config) and "tok-value" not in str(config)
    assert config.value("SMTP_PASSWORD") == "s3cret-value"


@pytest.mark.e2e
def test_the_supervisor_refuses_a_bad_setting_with_a_sentence(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(SUPERVISOR)],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DATA_DIR": str(tmp_path),
            "RASA_PORT": "not-a-port",
            "ACTIONS_PORT": str(free_port()),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Cannot start: RASA_PORT" in result.stderr
    assert "Traceback" not in result.stderr
