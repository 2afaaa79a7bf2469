"""The credentials Rasa runs with: credentials.yml plus the channels the environment enables.

credentials.yml holds what is always on (the REST channel of the website
widget).  A messaging channel is added only when all of its required
environment variables are set, so none is on by default and no secret is
ever written into the repository; the combined file goes to DATA_DIR with
owner-only permissions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from clinic_core import settings
from clinic_core.settings import PROJECT_ROOT

ROOT = PROJECT_ROOT


@dataclass(frozen=True)
class Channel:
    connector: str  # module path Rasa loads
    required: dict[str, str]  # credentials key -> environment variable
    optional: dict[str, str]


CHANNELS = [
    Channel(
        "channels.twilio.ClinicTwilioInput",
        {
            "account_sid": "TWILIO_ACCOUNT_SID",
            "auth_token": "TWILIO_AUTH_TOKEN",
            "public_url": "TWILIO_PUBLIC_URL",
        },
        {"twilio_number": "TWILIO_NUMBER", "api_base_url": "TWILIO_API_BASE_URL"},
    ),
    Channel(
        "channels.messenger.ClinicMessengerInput",
        {
            "verify": "MESSENGER_VERIFY_TOKEN",
            "secret": "MESSENGER_APP_SECRET",
            "page-access-token": "MESSENGER_PAGE_ACCESS_TOKEN",
        },
        {"graph_api_base_url": "MESSENGER_GRAPH_API_BASE_URL"},
    ),
    Channel(
        "channels.telegram.ClinicTelegramInput",
        {"access_token": "TELEGRAM_ACCESS_TOKEN", "secret_token": "TELEGRAM_SECRET_TOKEN"},
        {"api_base_url": "TELEGRAM_API_BASE_URL"},
    ),
]


def channel_values(env: Mapping[str, str]) -> dict[str, str]:
    """Every channel variable that has a value in `env`, read through the settings."""
    config = settings.load(env)
    variables = {v for c in CHANNELS for v in (*c.required.values(), *c.optional.values())}
    values = {variable: config.value(variable) for variable in variables}
    return {variable: value for variable, value in values.items() if value}


def effective_credentials(env: Mapping[str, str]) -> dict:
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8")) or {}
    values = channel_values(env)
    for channel in CHANNELS:
        if all(variable in values for variable in channel.required.values()):
            keys = {**channel.required, **channel.optional}
            credentials[channel.connector] = {
                key: values[variable] for key, variable in keys.items() if variable in values
            }
    return credentials


def write_credentials(env: dict[str, str]) -> Path:
    path = Path(env["DATA_DIR"]) / "credentials.yml"
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(yaml.safe_dump(effective_credentials(env), sort_keys=False), encoding="utf-8")
    return path


def enabled_channels(env: Mapping[str, str]) -> list[str]:
    values = channel_values(env)
    return [
        c.connector.rsplit(".", 1)[1]
        for c in CHANNELS
        if all(v in values for v in c.required.values())
    ]


if __name__ == "__main__":
    print(yaml.safe_dump(effective_credentials(dict(os.environ)), sort_keys=False))
