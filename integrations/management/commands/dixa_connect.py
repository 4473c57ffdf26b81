import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from integrations.clients.http import ApiUnavailable
from integrations.fields import validate_header_value
from integrations.models import Account
from integrations.services.dixa_actions import ACTIONS, dixa_action_run
from integrations.services.dixa_webhooks import connection_for


class Command(BaseCommand):
    help = (
        "Connect an account to Dixa through Dixa's webhook-subscription API (or repair, "
        "rotate, replace, disconnect). Idempotent: run it again to bring Dixa back in step."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="the account's slug (or name)")
        parser.add_argument(
            "--token-env",
            metavar="VARIABLE",
            help="read the account's Dixa API token from this environment variable (kept "
            "encrypted; needed once)",
        )
        parser.add_argument(
            "--action",
            choices=sorted(ACTIONS),
            default="connect",
            help="connect (default; also repairs), key_rotate, subscription_replace, disable "
            "or delete",
        )

    def handle(self, *args, account, token_env, action, **options):
        target = (
            Account.objects.filter(slug=account).first()
            or Account.objects.filter(name=account).first()
        )
        if target is None:
            raise CommandError(f"no account with the slug or name {account!r}")
        if token_env:
            token = os.environ.get(token_env, "").strip()
            if not token:
                raise CommandError(f"the environment variable {token_env} is empty or unset")
            try:
                validate_header_value(token)
            except ValidationError as exc:
                raise CommandError(f"{token_env}: {' '.join(exc.messages)}") from exc
            connection = connection_for(target)
            connection.api_token = token
            connection.save(update_fields=["api_token"])
        try:
            outcome = dixa_action_run(account_id=target.pk, action=action)
        except ApiUnavailable as exc:
            raise CommandError(f"Dixa is busy or unreachable, try again: {exc}") from exc
        if not outcome.ok:
            raise CommandError(outcome.message)
        self.stdout.write(outcome.message)
