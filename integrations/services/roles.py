"""The two roles that ship: groups a superuser adds staff users to (docs/admin.md, README).
Each role's permissions are kept in step with the models on every migrate."""

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

OPERATOR = "Relay operator"
ACCOUNT_ADMIN = "Account admin"
APPS = ("integrations", "ivr", "pgap")
# Records whose named actions (reprocess, retry, cancel, resend, re-enable, read again,
# subscribe) operators run: those actions take the model's change permission, and the
# records themselves stay read-only for everyone (RecordAdmin).
OPERATED = (
    ("integrations", "inboundevent"),
    ("ivr", "surveytrigger"),
    ("ivr", "npstodaydelivery"),
    ("pgap", "agentprediction"),
    ("pgap", "responsesubscription"),
)


def _perms(query: Q):
    return Permission.objects.filter(Q(content_type__app_label__in=APPS) & query)


def role_permissions() -> dict[str, list[Permission]]:
    """Operator: view everything (of their accounts: the admin scopes every page) and run the
    actions. Account admin: that, plus adding and changing configuration: mappings, keys,
    secrets, alert settings, P-GAP setup. Neither deletes anything, and neither role issues
    keys or sees a secret: issuing an API key is the account admin's."""
    operated = Q()
    for app_label, model in OPERATED:
        operated |= Q(content_type__app_label=app_label, content_type__model=model)
    view = _perms(Q(codename__startswith="view_"))
    return {
        OPERATOR: list(view) + list(_perms(Q(codename__startswith="change_") & operated)),
        ACCOUNT_ADMIN: list(
            _perms(
                Q(codename__startswith="view_")
                | Q(codename__startswith="add_")
                | Q(codename__startswith="change_")
            )
        ),
    }


@transaction.atomic
def roles_sync() -> dict[str, int]:
    """Create the groups (or reset their permissions to the shipped ones). Returns the number
    of permissions of each."""
    counts = {}
    for name, permissions in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)
        counts[name] = len(permissions)
    return counts


def roles_sync_after_migrate(sender, **kwargs) -> None:
    """post_migrate: each app's permissions exist once its migrate signal went out."""
    if sender.label in APPS:
        roles_sync()
