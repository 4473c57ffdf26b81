"""What every management view shares: token auth, the admin's permissions and scoping, the
throttle, cursor pages and strict filters."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, serializers, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.views import APIView

from integrations.admin.scoping import scoped
from integrations.api.manage.authentication import ManagementTokenAuthentication
from integrations.api.manage.filtering import StrictFilterBackend
from integrations.api.manage.pagination import ManagementCursorPagination
from integrations.api.manage.permissions import StaffModelPermission
from integrations.api.manage.throttling import ManagementThrottle
from integrations.audit.services import audit_record


class ManagementApiMixin:
    authentication_classes = [ManagementTokenAuthentication]
    permission_classes = [StaffModelPermission]
    throttle_classes = [ManagementThrottle]
    pagination_class = ManagementCursorPagination
    filter_backends = [StrictFilterBackend]
    parser_classes = [JSONParser]  # bodies are JSON; a form is a 415

    def handle_exception(self, exc):
        # A model's own validation (full_clean in a service) is a 400 with its field errors.
        if isinstance(exc, DjangoValidationError):
            exc = serializers.ValidationError(serializers.as_serializer_error(exc))
        return super().handle_exception(exc)

    def by(self) -> str:
        """How services name who acted (in a survey's reason, for example)."""
        return f"{self.request.user.get_username()} (API)"

    def audit(self, *, action: str, objects, summary: str, result: str) -> None:
        """The audit trail's entry, as the admin's actions write it, marked as the API's."""
        audit_record(
            actor=self.request.user,
            action=action,
            objects=objects,
            summary=f"{summary} (API)",
            result=result,
        )


class ScopedViewSetMixin(ManagementApiMixin):
    # Any path segment reaches the view (whose 404 is JSON), not only those the URL
    # resolver would match.
    lookup_value_regex = "[^/]+"

    def get_object(self):
        value = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")
        if "\x00" in value:  # PostgreSQL refuses NUL in text: no such object
            raise exceptions.NotFound()
        return super().get_object()

    # `queryset` narrowed to the rows of the user's accounts by the admin's own rule
    # (integrations.admin.scoping): another account's object is a 404, as if it did not exist.
    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular, no user
            return super().get_queryset().none()
        return scoped(super().get_queryset(), self.request.user)


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class NotFoundView(APIView):
    """Any other path under /api/v1/: a JSON 404, like the API's own."""

    authentication_classes: list = []
    permission_classes: list = []
    schema = None

    def initial(self, request, *args, **kwargs):
        raise exceptions.NotFound()
