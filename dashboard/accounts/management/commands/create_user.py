import getpass
import sys
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.accounts.roles import Role
from dashboard.accounts.services import user_create_with_role


class Command(BaseCommand):
    help = "Create a user with one role (admin, support or manager), or reset their password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from standard input instead of prompting.",
        )

    def handle(
        self,
        *args: Any,
        username: str,
        role: str,
        email: str,
        password_stdin: bool,
        **options: Any,
    ) -> None:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        if not password:
            raise CommandError("The password cannot be empty.")
        try:
            validate_password(password)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        user_create_with_role(username=username, password=password, role=Role(role), email=email)
        self.stdout.write(self.style.SUCCESS(f"User {username} has the {role} role."))
