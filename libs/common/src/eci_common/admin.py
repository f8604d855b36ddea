"""`eci-admin`: the operator's command line (topics and lag, outbox backlog, dead letters and
their replay, read-model rebuild, demo data). Reads KAFKA_BOOTSTRAP_SERVERS, the Kafka account
(KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*: the admin account on a broker with ACLs) and MONGODB_URI."""

import asyncio
import os
import subprocess
import sys
from typing import Annotated

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from eci_common import admin_tokens, topics
from eci_common.dead_letters import read_dead_letters, replay, select
from eci_common.kafka import client_security_kwargs
from eci_common.mongo import create_mongo_client
from eci_common.outbox_quarantine import (
    RESEND_REQUESTS,
    event_id_of,
    list_quarantined,
    request_resend,
)
from eci_common.settings import KafkaSettings, MongoSettings

app = typer.Typer(help=__doc__, no_args_is_help=True)
dead = typer.Typer(help="Dead letters of a service: list, show, replay.", no_args_is_help=True)
app.add_typer(dead, name="dead-letters")

SERVICES = ("registry", "projects", "notifications")
OUTBOXES = {
    "registry": ("companies", "clusters"),
    "projects": ("projects",),
    "notifications": ("notifications",),
}
Service = Annotated[str, typer.Argument(help="registry, projects or notifications")]


def _kafka() -> KafkaSettings:
    return KafkaSettings()


def _dlq(service: str) -> str:
    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    return topics.dead_letter_topic(service)


@app.command("topics")
def topics_status() -> None:
    """Each declared topic's size, and each consumer group's lag on it."""
    asyncio.run(_topics_status(_kafka()))


async def _topics_status(settings: KafkaSettings) -> None:
    bootstrap, security = settings.kafka_bootstrap_servers, client_security_kwargs(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, **security)
    await admin.start()
    await consumer.start()
    try:
        names = sorted(topics.PUBLIC_TOPICS | topics.INTERNAL_TOPICS)
        described = await admin.describe_topics(names)
        partitions = [
            TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]
        ]
        ends = await consumer.end_offsets(partitions)
        for name in names:
            size = sum(end for tp, end in ends.items() if tp.topic == name)
            kind = "public" if name in topics.PUBLIC_TOPICS else "internal"
            typer.echo(f"{name:34} {kind:8} {size:>9} records")
        for group, _ in sorted(await admin.list_consumer_groups()):
            offsets = await admin.list_consumer_group_offsets(group)
            for name in names:
                mine = {tp: meta.offset for tp, meta in offsets.items() if tp.topic == name}
                if mine:
                    lag = sum(max(ends.get(tp, 0) - off, 0) for tp, off in mine.items())
                    typer.echo(f"  group {group:28} {name:34} lag {lag}")
    finally:
        await consumer.stop()
        await admin.close()


outbox = typer.Typer(
    help="Events waiting in each service's outboxes, the quarantined ones, and their resend.",
    invoke_without_command=True,
)
app.add_typer(outbox, name="outbox")


def _database_name(service: str) -> str:
    return os.environ.get(f"{service.upper()}_MONGODB_DATABASE", f"eci_{service}")


@outbox.callback()
def outbox_status(ctx: typer.Context) -> None:
    """Events waiting in each service's outboxes; each quarantined event (refused for good by
    the broker, or unreadable) with its reason, and how many events wait behind it."""
    if ctx.invoked_subcommand is None:
        asyncio.run(_outbox())


async def _outbox() -> None:
    client = create_mongo_client(MongoSettings(mongodb_database="admin"))
    try:
        for service, collections in OUTBOXES.items():
            database = client[_database_name(service)]
            for name in collections:
                waiting = 0
                async for document in database[name].find(
                    {"outbox.0": {"$exists": True}}, {"outbox": 1}
                ):
                    waiting += len(document["outbox"])
                items = await list_quarantined(database[name])
                typer.echo(f"{service:14} {name:22} {waiting} waiting, {len(items)} quarantined")
                for doc_id, item in items:
                    entry = item["entry"] if isinstance(item["entry"], dict) else {}
                    typer.echo(
                        f"  quarantined {event_id_of(item['entry'])} "
                        f"type={entry.get('headers', {}).get('ce_type')} "
                        f"topic={entry.get('topic')} aggregate={doc_id} since={item['at']} "
                        f"reason={str(item['reason'])[:200]}"
                    )
    finally:
        await client.close()


@outbox.command("resend")
def outbox_resend(
    service: Annotated[str, typer.Argument(help=", ".join(OUTBOXES))],
    event_id: Annotated[str | None, typer.Argument(help="the quarantined event")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every quarantined event")] = False,
    wait_s: Annotated[float, typer.Option(help="how long to wait for the relay")] = 30.0,
) -> None:
    """Puts quarantined events back at the head of their outbox (after the fix): the service's
    relay does it on its next search, under its document locks, and publishes them, then the
    events held behind them."""
    if service not in OUTBOXES:
        raise typer.BadParameter(f"unknown service {service!r}; one of {', '.join(OUTBOXES)}")
    if (event_id is None) == (not all_):
        raise typer.BadParameter("say which: an EVENT_ID or --all")
    done = asyncio.run(_resend(service, event_id, wait_s))
    if not done:
        typer.echo(f"resend requested; the {service} relay has not taken it within {wait_s:g} s")
        raise typer.Exit(1)
    typer.echo(f"resend of {event_id or 'every quarantined event'} taken by the {service} relay")


async def _resend(service: str, event_id: str | None, wait_s: float) -> bool:
    client = create_mongo_client(MongoSettings(mongodb_database="admin"))
    try:
        database = client[_database_name(service)]
        request_id = await request_resend(database, event_id)
        deadline = asyncio.get_running_loop().time() + wait_s
        while asyncio.get_running_loop().time() < deadline:
            if await database[RESEND_REQUESTS].find_one({"_id": request_id}) is None:
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await client.close()


@dead.command("list")
def dead_list(
    service: Service, event_type: Annotated[str | None, typer.Option("--type")] = None
) -> None:
    """One line per dead letter: offset, event id, type, group, attempts, reason."""
    letters = select(asyncio.run(read_dead_letters(_kafka(), _dlq(service))), event_type=event_type)
    for letter in letters:
        typer.echo(
            f"{letter.partition}:{letter.offset} {letter.event_id} {letter.event_type} "
            f"group={letter.headers.get('dlq_group')} "
            f"attempts={letter.headers.get('dlq_attempts')} "
            f"reason={letter.reason[:120]}"
        )
    typer.echo(f"{len(letters)} dead letter(s)")


@dead.command("show")
def dead_show(service: Service, event_id: str) -> None:
    """Headers and body of the dead letters of one event."""
    letters = select(asyncio.run(read_dead_letters(_kafka(), _dlq(service))), event_id=event_id)
    if not letters:
        typer.echo(f"no dead letter for event {event_id}", err=True)
        raise typer.Exit(1)
    for letter in letters:
        for name, value in sorted(letter.headers.items()):
            typer.echo(f"{name}: {value}")
        typer.echo(letter.body.decode(errors="replace"))


@dead.command("replay")
def dead_replay(
    service: Service,
    all_: Annotated[bool, typer.Option("--all", help="every dead letter")] = False,
    event_type: Annotated[str | None, typer.Option("--type")] = None,
    event_id: Annotated[str | None, typer.Option("--id")] = None,
) -> None:
    """Publishes dead letters back onto their original topic (after the fix is deployed)."""
    if not (all_ or event_type or event_id):
        raise typer.BadParameter("say which: --all, --type TYPE or --id EVENT_ID")
    letters = select(
        asyncio.run(read_dead_letters(_kafka(), _dlq(service))),
        event_type=event_type,
        event_id=event_id,
    )
    with typer.progressbar(length=len(letters), label="replaying") as bar:
        count = asyncio.run(replay(_kafka(), letters, progress=lambda _: bar.update(1)))
    typer.echo(f"{count} dead letter(s) replayed")


@app.command("rebuild-projects")
def rebuild_projects(swap: bool = False) -> None:
    """Rebuilds projects' read model from the registry topics (see eci_projects.rebuild)."""
    command = [sys.executable, "-m", "eci_projects.rebuild", *(["--swap"] if swap else [])]
    raise typer.Exit(subprocess.call(command))  # noqa: S603 - our own module


@app.command("seed-demo")
def seed_demo(url: str = "http://127.0.0.1:8001") -> None:
    """Seeds the demo clusters and companies through the registry API (idempotent)."""
    raise typer.Exit(subprocess.call([sys.executable, "-m", "eci_registry.demo", "--url", url]))  # noqa: S603


app.command("token")(admin_tokens.token)
app.command("revoke")(admin_tokens.revoke)
app.add_typer(admin_tokens.keys, name="keys")


def main() -> None:
    app()
