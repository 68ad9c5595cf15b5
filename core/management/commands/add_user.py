"""Create a judge or a staff account with a generated password: manage.py add_user <username> --judge|--staff.

Prints the password once (hand it to the person; they cannot change it themselves yet, staff reset it in the
admin or with --reset-password)."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.permissions import JUDGES_GROUP


class Command(BaseCommand):
    help = "Create a judge (group 'judges') or a staff account and print its generated password."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("username")
        role = parser.add_mutually_exclusive_group(required=True)
        role.add_argument("--judge", action="store_true", help="A judge: sees only their own assignments.")
        role.add_argument("--staff", action="store_true", help="Staff: runs jobs, sees every page and the admin.")
        parser.add_argument("--email", default="")
        parser.add_argument("--reset-password", action="store_true", help="The user exists: give them a new password.")

    @transaction.atomic
    def handle(self, *args, username: str, judge: bool, staff: bool, email: str, reset_password: bool, **options):
        username = username.strip()
        if not username:
            raise CommandError("Give a username.")
        password = secrets.token_urlsafe(12)
        user = User.objects.filter(username=username).first()
        if user is not None and not reset_password:
            raise CommandError(f"A user named {username!r} exists already; add --reset-password for a new password.")
        if user is None:
            user = User.objects.create_user(username=username, email=email, password=password)
        else:
            user.set_password(password)
        user.is_staff = user.is_superuser = staff
        user.save()
        judges, _ = Group.objects.get_or_create(name=JUDGES_GROUP)
        if judge:
            user.groups.add(judges)
        else:
            user.groups.remove(judges)
        self.stdout.write(f"{'staff' if staff else 'judge'} {username}: password {password}")
