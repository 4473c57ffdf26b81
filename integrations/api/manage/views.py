"""What every management view shares: token auth, the admin's permissions and scoping, the
throttle, cursor pages and strict filters."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers, viewsets

from integrations.admin.scoping import scoped
from integrations.api.manage.authentication import ManagementTokenAuthentication
from integrations.api.manage.filtering import StrictFilterBackend
from integrations.api.manage.pagination import ManagementCursorPagination
from integrations.api.manage.permissions import StaffModelPermission
from integrations.api.manage.throttling import ManagementThrottle


class ManagementApiMixin:
    authentication_classes = [ManagementTokenAuthentication]
    permission_classes = [StaffModelPermission]
    throttle_classes = [ManagementThrottle]
    pagination_class = ManagementCursorPagination
    filter_backends = [StrictFilterBackend]

    def handle_exception(self, exc):
        # A model's own validation (full_clean in a service) is a 400 with its field errors.
        if isinstance(exc, DjangoValidationError):
            exc = serializers.ValidationError(serializers.as_serializer_error(exc))
        return super().handle_exception(exc)

    def by(self) -> str:
        """How services and audit entries name who acted."""
        return f"{self.request.user.get_username()} (API)"


class ScopedViewSetMixin(ManagementApiMixin):
    # `queryset` narrowed to the rows of the user's accounts by the admin's own rule
    # (integrations.admin.scoping): another account's object is a 404, as if it did not exist.

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular, no user
            return super().get_queryset().none()
        return scoped(super().get_queryset(), self.request.user)


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass
