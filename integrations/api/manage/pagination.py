from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class ManagementCursorPagination(CursorPagination):
    """Newest first, by cursor: pages stay stable while rows arrive. A cursor we did not
    issue is a 400 on the `cursor` parameter, like any other invalid filter."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("-id",)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: [str(exc.detail)]}) from exc

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and 0 < int(raw)):
            raise ValidationError(
                {self.page_size_query_param: ["A positive whole number is required."]}
            )
        return super().get_page_size(request)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters
