"""Tenant isolation in the admin: a staff user sees only their accounts' objects."""

from django.contrib import admin

from integrations.models import Account


def visible_accounts(user):
    if user.is_superuser:
        return Account.objects.all()
    return Account.objects.filter(members=user)


class AccountListFilter(admin.SimpleListFilter):
    """Like a related-field filter, but lists only the accounts the user may see."""

    title = "account"
    parameter_name = "account"

    def lookups(self, request, model_admin):
        return [(str(a.pk), a.name) for a in visible_accounts(request.user)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(account_id=self.value())
        return queryset


class AccountScopedAdmin(admin.ModelAdmin):
    """Filters every queryset by the user's accounts; `account_path` names the link."""

    account_path = "account"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        members = f"{self.account_path}__members" if self.account_path else "members"
        return queryset.filter(**{members: request.user})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Account:
            kwargs["queryset"] = visible_accounts(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ScopedInline:
    """Inlines are reached through a scoped parent; limit their account choices as well."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Account:
            kwargs["queryset"] = visible_accounts(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
