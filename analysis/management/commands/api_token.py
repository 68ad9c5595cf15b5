"""Print (creating it if needed) the API token of a staff user: manage.py api_token <username> [--reset]."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Print the read-only API token of a staff user (creates one if the user has none)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("username")
        parser.add_argument("--reset", action="store_true", help="Replace the existing token with a new one.")

    def handle(self, *args, username: str, reset: bool, **options) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(
                f"No user named {username!r}. Create a staff account first: "
                f"manage.py add_user {username} --staff (it prints the password)."
            )
        if not user.is_staff or not user.is_active:
            raise CommandError(
                f"{username!r} is not an active staff user; the API serves staff only (judges get 403 anyway)."
            )
        if reset:
            Token.objects.filter(user=user).delete()
        token, created = Token.objects.get_or_create(user=user)
        if created and not reset:
            self.stderr.write(f"Created a token for {username}.")
        self.stdout.write(token.key)
