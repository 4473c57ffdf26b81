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


# Each page may load only from this site, and only what it needs: both inject their styles;
# Swagger UI starts from an inline script, Redoc from its bundle (it searches in a worker).
# Redoc's footer asks its vendor's CDN for a logo whatever its options: the policy refuses
# that, and Redoc leaves the logo out.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)
SWAGGER_CSP = f"{DOCS_CSP}; script-src 'self' 'unsafe-inline'"
REDOC_CSP = f"{DOCS_CSP}; script-src 'self'; worker-src 'self' blob:"


class DocsPage(DocsAccess):
    policy = DOCS_CSP

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class SchemaView(DocsAccess, SpectacularAPIView):
    pass


class SwaggerView(DocsPage, SpectacularSwaggerView):
    policy = SWAGGER_CSP


class RedocView(DocsPage, SpectacularRedocView):
    policy = REDOC_CSP
    template_name = "integrations/api_redoc.html"  # without the web fonts of a CDN
