"""`flask kapt ...`: operator commands."""

from __future__ import annotations

import signal
import time

import click
import marshmallow as ma
from flask import current_app
from flask.cli import AppGroup
from werkzeug.serving import make_server

from kapt_api.auth import service as auth_service
from kapt_api.auth.models import Role
from kapt_api.db import db
from kapt_api.errors import DomainError
from kapt_api.fields import Email, Text

kapt = AppGroup("kapt", help="kapt-api operator commands.")


def _checked(option: str, field: ma.fields.Field, value: str) -> str:
    """The value as the API's own schemas would accept it, or a message naming the option."""
    try:
        return str(field.deserialize(value))
    except ma.ValidationError as exc:
        raise click.ClickException(f"{option}: {' '.join(map(str, exc.messages))}") from None


@kapt.command("create-admin")
@click.option("--email", required=True, help="Login email of the administrator.")
@click.option("--name", "full_name", default="Administrator", show_default=True)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="KAPT_ADMIN_PASSWORD",
    help="At least 12 characters (or KAPT_ADMIN_PASSWORD).",
)
def create_admin(email: str, full_name: str, password: str) -> None:
    """Create an administrator account."""
    email = _checked("--email", Email(), email)
    full_name = _checked("--name", Text(min_length=1), full_name)
    try:
        user = auth_service.create_user(
            email=email, full_name=full_name, password=password, roles={Role.ADMIN}
        )
    except DomainError as exc:
        detail = "; ".join(m for msgs in exc.errors.values() for m in msgs) or exc.detail
        raise click.ClickException(detail) from None
    db.session.commit()
    click.echo(f"Administrator {user.email} created (id {user.id}).")


@kapt.command("demo-data")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
@click.option(
    "--no-logins",
    is_flag=True,
    help="Do not print the logins (`make run` prints them once the server is up).",
)
@click.option(
    "--reset",
    is_flag=True,
    help="Drop everything and load the demo afresh, for today; only over an empty "
    "database or the demo alone, never with KAPT_ENV=production.",
)
def demo_data(if_empty: bool, no_logins: bool, reset: bool) -> None:
    """Load the demo clinic (its days placed around today) and print its logins."""
    from kapt_api import demo

    if if_empty and reset:
        raise click.UsageError("Give --if-empty or --reset, not both.")
    if reset:
        _refuse_reset_unless_demo_only(demo.foreign_contents())
        from kapt_api.demo.reset import rebuild_schema

        rebuild_schema()
        _load_demo("Demo clinic reloaded")
    elif demo.database_has_users():
        if not if_empty:
            raise click.ClickException(
                "The database already has users; demo clinic not loaded. Use --reset to "
                "reload the demo over itself, --if-empty to leave the database as it is."
            )
        if not demo.demo_loaded():
            click.echo("Database already has users; demo clinic not loaded.")
            return
        click.echo("Demo clinic already loaded.")
    else:
        _load_demo("Demo clinic loaded")
    if not no_logins:
        _print_logins(indent="")


def _print_logins(*, indent: str) -> None:
    from kapt_api import demo

    click.echo(f"{indent}Demo logins (email / password / roles):")
    for login in demo.LOGINS:
        click.echo(f"{indent}  {login.email:<38} {login.password:<28} {', '.join(login.roles)}")


def _refuse_reset_unless_demo_only(foreign: list[str]) -> None:
    if current_app.config["KAPT_ENV"] == "production":
        raise click.ClickException(
            "Refusing to reset: KAPT_ENV is production. --reset drops every table; it is "
            "for a demo database only."
        )
    if foreign:
        raise click.ClickException(
            f"Refusing to reset: the database holds more than the demo clinic "
            f"({'; '.join(foreign)}). --reset drops every table; it only replaces an empty "
            "database or the demo alone."
        )


def _load_demo(done: str) -> None:
    from kapt_api import demo

    started = time.perf_counter()
    demo.load()
    db.session.commit()
    click.echo(f"{done} in {time.perf_counter() - started:.1f} s.")


@kapt.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Embedded mode: the development server with the scheduler in a thread."""
    from kapt_api import scheduler

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        # Bound before anything is printed, so a taken port is said plainly and first.
        server = make_server(host, port, app, threaded=True)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror}); "
            f"choose another port, for example `make run PORT={port + 1}`"
        ) from None
    runner = None
    if app.config["KAPT_EMBEDDED_SCHEDULER"]:
        runner = scheduler.build(app, blocking=False)
        runner.start()
    _print_banner(f"http://{host}:{server.server_port}", scheduler_running=runner is not None)
    # SIGTERM (kill, a process manager) stops it as Ctrl+C does: werkzeug ends its loop.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
        click.echo("Stopped.")
    finally:
        server.server_close()
        if runner is not None:
            runner.shutdown(wait=False)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _print_banner(base_url: str, *, scheduler_running: bool) -> None:
    """What a newcomer needs, printed last so it is what they see: where, and who."""
    from kapt_api import demo

    scheduler_note = "with the scheduler in a thread" if scheduler_running else "no scheduler"
    click.echo(f"\nkapt-api is serving {base_url} ({scheduler_note}); Ctrl+C stops it.")
    click.echo(f"  API docs:         {base_url}/docs")
    click.echo(f"  OpenAPI document: {base_url}/openapi.json")
    if demo.demo_loaded():
        _print_logins(indent="  ")
    click.echo("")


@kapt.command("scheduler")
def run_scheduler() -> None:
    """Run the scheduler as its own process (production; one or more replicas)."""
    from kapt_api import scheduler

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    runner = scheduler.build(app, blocking=True)

    def _stop(signum: int, _frame: object) -> None:
        # `docker stop` and systemd send SIGTERM: let the jobs under way finish their
        # batch (each claim is leased, so a kill would only delay it) and exit cleanly.
        click.echo(f"Scheduler {scheduler.INSTANCE_NAME} stopping ({signal.Signals(signum).name}).")
        runner.shutdown(wait=True)

    signal.signal(signal.SIGTERM, _stop)
    click.echo(f"Scheduler {scheduler.INSTANCE_NAME} running {len(scheduler.JOBS)} jobs.")
    try:
        runner.start()
    except KeyboardInterrupt:
        runner.shutdown(wait=True)
    click.echo(f"Scheduler {scheduler.INSTANCE_NAME} stopped.")
