"""The platform's URLs plus two floors to compare ingest against (benchmarks only)."""

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as platform_urls


@csrf_exempt
def bare(request):
    """A plain Django view: reads the body and answers, no auth, parsing or storage."""
    request.read()
    return JsonResponse({"status": "accepted"}, status=202)


class BareDrfView(APIView):
    """The same through DRF's APIView (dispatch, negotiation, rendering), no auth."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = []

    def post(self, request):
        request.read()
        return Response({"status": "accepted"}, status=202)


urlpatterns = [
    path("bench/bare", bare),
    path("bench/bare-drf", BareDrfView.as_view()),
    *platform_urls,
]
