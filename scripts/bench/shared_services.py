"""The production profile's PostgreSQL database, Redis keys and RabbitMQ queue,
isolated per run and removed afterwards.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

from scripts.ports import free_port_block


def production_isolation(env: dict[str, str]) -> dict[str, str]:
    """This run's own database, Redis keys, queue, exchange and private ports.

    The profile's defaults are the clinic's real database and queue, and
    fixed loopback ports a test run may be using at the same time.
    """
    tag = uuid.uuid4().hex[:10]
    private = int(env.get("RASA_PROCESSES", "2")) + int(env.get("ACTION_PROCESSES", "2")) + 1
    return {
        "POSTGRES_DB": f"bench_{tag}",
        "REDIS_KEY_PREFIX": f"bench{tag}",
        "RABBITMQ_QUEUE": f"bench_events_{tag}",
        "RABBITMQ_EXCHANGE": f"bench_events_{tag}_exchange",
        "PRIVATE_PORT_BASE": str(free_port_block(private)),  # below the ephemeral range
    }


def clean_production_state(env: dict[str, str]) -> None:
    """Drop this run's database, Redis keys, queue and exchange; say so when one cannot be."""
    if not env.get("POSTGRES_DB", "").startswith("bench_"):
        return  # never anything the bench did not name itself
    try:
        production, full = production_settings(env)
    except Exception as error:  # the profile's code is not ours; report and go on
        print(f"[production] left its state behind: {error}", file=sys.stderr)
        return
    steps = (
        ("database " + full["POSTGRES_DB"], lambda: drop_database(production, full)),
        ("Redis keys " + full["REDIS_KEY_PREFIX"] + "*", lambda: delete_redis_keys(full)),
        ("queue and exchange " + full["RABBITMQ_QUEUE"], lambda: asyncio.run(delete_queue(full))),
    )
    for what, step in steps:
        try:
            step()
        except Exception as error:  # as above: one leftover must not hide the figures
            print(f"[production] could not remove {what}: {error}", file=sys.stderr)


def production_settings(env: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """scripts/production.py and `env` with the profile's defaults, as run.py saw it."""
    from scripts import production

    full = dict(env)
    production.apply_defaults(full)
    return production, full


def drop_database(production: Any, full: dict[str, str]) -> None:
    import sqlalchemy as sa

    admin_url = production.database_url(full, full["POSTGRES_LOGIN_DB"])
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            name = full["POSTGRES_DB"]
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def delete_redis_keys(full: dict[str, str]) -> None:
    import redis

    client = redis.Redis(
        host=full["REDIS_HOST"],
        port=int(full["REDIS_PORT"]),
        db=int(full["REDIS_DB"]),
        password=full["REDIS_PASSWORD"] or None,
    )
    try:
        for key in client.scan_iter(match=full["REDIS_KEY_PREFIX"] + "*"):
            client.delete(key)
    finally:
        client.close()


async def delete_queue(full: dict[str, str]) -> None:
    import aio_pika

    connection = await aio_pika.connect(
        host=full["RABBITMQ_HOST"],
        port=int(full["RABBITMQ_PORT"]),
        login=full["RABBITMQ_USER"],
        password=full["RABBITMQ_PASSWORD"],
    )
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(full["RABBITMQ_QUEUE"])
        if full["RABBITMQ_EXCHANGE"].startswith("bench_"):  # never the shared one
            await channel.exchange_delete(full["RABBITMQ_EXCHANGE"])
