from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from integrations.api.relay import relay_reply


@csrf_exempt
def dixa_relay(request):
    """The URL an admin pastes into Dixa's webhook form. Under the platform's WSGI entry
    point deliveries are answered by `fast_path`; this view answers everything else
    (runserver, the test client, a GET)."""
    reply = relay_reply(request.META, request.read)
    return JsonResponse(reply.body, status=reply.status, headers=reply.headers)
