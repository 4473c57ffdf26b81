from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from integrations.erasure.models import Erasure
from integrations.erasure.services import personal_data_erase, subject_for
from integrations.models import Account
from integrations.progress import Progress


class Command(BaseCommand):
    help = (
        "Erase one person's data (GDPR): emails, phones, names, ids, bodies and comments in "
        "events, surveys, tries and answers; counts and scores stay. Named by exactly one of "
        "--email, --phone, --requester (Dixa requester id) or --csid. Every account unless "
        "--account is given. --dry-run counts and changes nothing. docs/erasure.md"
    )

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        for kind in Erasure.Kind:
            who.add_argument(f"--{kind.value}", dest=kind.value, metavar=kind.label.upper())
        parser.add_argument("--account", action="append", default=[], metavar="SLUG")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, account, dry_run, **options):
        kind = next(k for k in Erasure.Kind if options.get(k.value) is not None)
        try:
            subject = subject_for(kind, options[kind.value])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        accounts = Account.objects.all()
        if account:
            accounts = accounts.filter(slug__in=account)
            missing = set(account) - set(accounts.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"no account {', '.join(sorted(missing))}; nothing erased")
        with Progress.for_command(self, "accounts searched", accounts.count()) as progress:
            records = personal_data_erase(
                subject=subject,
                accounts=accounts,
                actor="manage.py erase_personal_data",
                dry_run=dry_run,
                progress=progress,
            )
        verb = "would change" if dry_run else "changed"
        matched = [record for record in records if record.rows]
        if not matched:
            self.stdout.write(f"No data of this {kind.label.lower()} was found; nothing changed.")
            return
        for record in matched:
            self.stdout.write(
                f"{record.account.slug}: {record.conversations} conversation(s); {verb} "
                + ", ".join(f"{count} {name}" for name, count in record.counts.items() if count)
            )
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
