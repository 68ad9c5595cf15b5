"""`manage.py bootstrap`: roles, demo users, default models, demo corpus and first jobs (idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from firstrun.bootstrap import credentials_file, run_bootstrap


class Command(BaseCommand):
    help = "Create demo users, register the offline models, load the demo corpus and queue first-run jobs."

    def add_arguments(self, parser):
        parser.add_argument("--no-jobs", action="store_true", help="Do not queue conversion/demo jobs.")

    def handle(self, *args, **options):
        summary = run_bootstrap(with_jobs=not options["no_jobs"])
        corpus = summary["demo_corpus"]
        self.stdout.write(f"Demo corpus: {corpus['passages']} new passages, {corpus['pairs']} new reference pairs.")
        for pk, title in summary.get("jobs", []):
            self.stdout.write(f"Job #{pk} queued or running: {title}")
        self.stdout.write(f"Logins (also in {credentials_file()}):")
        for username, password in summary["credentials"].items():
            role = "admin (staff)" if username == "admin" else "judge"
            self.stdout.write(f"  {username:8s} {password}   {role}")
