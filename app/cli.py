"""Flask commands: `flask seed-demo`, `flask create-creator`, `flask run-jobs`."""

import click
from flask import current_app

from app.auth import services as auth_services
from app.demo import seed_content
from app.jobs import run_pending_jobs

DEMO_EMAIL = "demo@creatorhub.local"
DEMO_PASSWORD = "demo-coach-2026"


def register_cli(app):
    @app.cli.command("seed-demo")
    def seed_demo():
        """Create the demo creator (idempotent) and print its login."""
        member = auth_services.find_member_by_email(DEMO_EMAIL)
        if member is None:
            member = auth_services.register_creator(DEMO_EMAIL, DEMO_PASSWORD, "Demo Coach", "Demo Coaching Co.")
            seed_content(member)
            click.echo("Created the demo creator, with a course, a chat widget, an FAQ entry and a program.")
        click.echo(f"Log in at http://127.0.0.1:5000/login as {DEMO_EMAIL} / {DEMO_PASSWORD}")

    @app.cli.command("create-creator")
    @click.option("--email", required=True)
    @click.option("--name", "full_name", required=True)
    @click.password_option()
    def create_creator(email, full_name, password):
        """Create a creator and its owner account."""
        from app.auth.passwords import password_problems

        problems = password_problems(password, email)
        if problems:
            raise click.ClickException(" ".join(problems))
        member = auth_services.register_creator(email, password, full_name)
        click.echo(f"Created creator {member.creator_id} with owner {member.email}.")

    @app.cli.command("run-jobs")
    def run_jobs():
        """Run every queued background job now, then exit."""
        count = run_pending_jobs(current_app._get_current_object())
        click.echo(f"Ran {count} job(s).")
