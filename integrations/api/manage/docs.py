"""The schema and its pages (Swagger UI, Redoc; their files come from drf-spectacular-sidecar,
no CDN). Readable by active staff: signed in to the admin (a browser's session) or with a
management token (tools such as schemathesis)."""

from functools import cache
from hashlib import sha256

from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import etag, require_safe
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
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)
SWAGGER_CSP = f"{DOCS_CSP}; script-src 'self' 'unsafe-inline'"
REDOC_CSP = f"{DOCS_CSP}; script-src 'self'; worker-src 'self' blob:"

# Redoc's bundle draws its footer ("API docs by Redocly") with the vendor's logo from its CDN,
# whatever the options. The page loads the sidecar's bundle with that address emptied: the
# image then fails at once, without a request to another host or a refusal by the policy,
# and Redoc leaves the logo out.
REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOC_CDN_LOGO = b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'
REDOC_SOURCE_MAP = b"sourceMappingURL=redoc.standalone.js.map"


@cache
def redoc_bundle() -> bytes:
    with open(finders.find(REDOC_BUNDLE), "rb") as bundle:
        text = bundle.read().replace(REDOC_CDN_LOGO, b'src:""')
    source_map = static(f"{REDOC_BUNDLE}.map").encode()  # beside the sidecar's file, not ours
    return text.replace(REDOC_SOURCE_MAP, b"sourceMappingURL=" + source_map)


@cache
def redoc_bundle_etag() -> str:
    return f'W/"{sha256(redoc_bundle()).hexdigest()}"'  # weak: sent gzipped or not


@require_safe
@etag(lambda request: redoc_bundle_etag())
@gzip_page
def redoc_bundle_view(request):
    response = HttpResponse(redoc_bundle(), content_type="text/javascript; charset=utf-8")
    patch_cache_control(response, public=True, max_age=86400)
    return response


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

    @staticmethod
    def _redoc_standalone():
        return reverse("api-redoc-bundle")  # the sidecar's bundle without the CDN logo
