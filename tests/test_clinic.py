"""The clinic file: the only source of practical facts."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from clinic_core.clinic import ClinicConfigError, load_clinic, parse_clinic

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "clinic" / "example-clinic.yml"


def test_example_clinic_loads_with_safety_facts() -> None:
    clinic = load_clinic(EXAMPLE)
    assert clinic.emergency_number == "911"
    assert clinic.phone and clinic.name


@pytest.mark.parametrize("missing", ["name", "phone", "emergency_number"])
def test_a_clinic_without_a_safety_fact_is_refused(missing: str) -> None:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw[missing] = "  "
    with pytest.raises(ClinicConfigError, match=missing):
        parse_clinic(raw)


def test_unknown_weekday_is_refused() -> None:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["opening_hours"] = {"funday": "09:00-17:00"}
    with pytest.raises(ClinicConfigError, match="funday"):
        parse_clinic(raw)


def test_hours_text_lists_closed_days() -> None:
    clinic = parse_clinic(
        {
            "name": "C",
            "phone": "1",
            "emergency_number": "911",
            "opening_hours": {"Monday": "09:00-17:00"},
        }
    )
    assert clinic.hours_text().startswith("Monday 09:00-17:00, Tuesday closed")


def test_unconfigured_facts_are_none_not_empty_strings() -> None:
    clinic = parse_clinic(
        {"name": "C", "phone": "1", "emergency_number": "911", "insurance": "", "prices": []}
    )
    assert clinic.insurance is None and clinic.prices_text() is None and clinic.hours_text() is None


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "clinic.yml"
    raw = yaml.safe_load(EXAMPLE.read_text())
    path.write_text(yaml.safe_dump(raw))
    assert load_clinic(path).phone == raw["phone"]
    raw["phone"] = "+1 555-0177"
    path.write_text(yaml.safe_dump(raw))
    later = time.time() + 5
    os.utime(path, (later, later))
    assert load_clinic(path).phone == "+1 555-0177"


def test_emergency_languages_must_exist_in_the_triage_rules(tmp_path) -> None:
    from clinic_core.clinic import ClinicConfigError, load_clinic

    path = tmp_path / "clinic.yml"
    base = "name: C\nphone: '+1 555-0100'\nemergency_number: '911'\n"
    path.write_text(base + "emergency_languages: [es]\n")
    assert load_clinic(path).emergency_languages == ("es",)
    path.write_text(base + "emergency_languages: [xx]\n")
    with pytest.raises(ClinicConfigError, match="xx"):
        load_clinic(path)


def test_a_language_left_out_of_the_clinic_file_is_not_recognised() -> None:
    from clinic_core import screening

    assert screening.read("no puedo respirar", languages=("es",), semantic=False).is_emergency
    assert not screening.read("no puedo respirar", languages=(), semantic=False).is_report
