from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as platform_urls


@csrf_exempt
def bare(request):
    """The floor: Django reads the body and answers, with no auth, parsing or storage."""
    request.read()
    return JsonResponse({"status": "accepted"}, status=202)


urlpatterns = [path("bench/bare", bare), *platform_urls]
