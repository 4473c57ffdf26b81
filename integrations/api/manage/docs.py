"""The schema and its pages (Swagger UI, Redoc; their files come from drf-spectacular-sidecar,
no CDN). Readable by active staff: signed in to the admin (a browser's session) or with a
management token (tools such as schemathesis)."""

from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser

from integrations.api.manage.authentication import ManagementTokenAuthentication
from integrations.api.manage.throttling import ManagementThrottle


class DocsAccess:
    # The token first: without credentials the answer is 401 with its WWW-Authenticate.
    authentication_classes = [ManagementTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAdminUser]
    throttle_classes = [ManagementThrottle]


# The pages may load only from this site. Redoc's bundle also asks a CDN for its logo; the
# browser refuses that, and Redoc then leaves the logo out.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'"
)


class DocsPage(DocsAccess):
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP)
        return response


class SchemaView(DocsAccess, SpectacularAPIView):
    pass


class SwaggerView(DocsPage, SpectacularSwaggerView):
    pass


class RedocView(DocsPage, SpectacularRedocView):
    template_name = "integrations/api_redoc.html"  # without the web fonts of a CDN
