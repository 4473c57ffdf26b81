"""`POST /api/dixa/card`: the Hook URL of Dixa's custom card. Authenticated like the relay
(Basic `ApiKey:<key>` as the card sends it, or Bearer); the body is the card's JSON (seed:
nps.today's Dixa guide); the answer is what the card's template renders."""

import json
import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from rest_framework import serializers
from rest_framework.exceptions import MethodNotAllowed, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.api.authentication import ApiKeyAuthentication
from integrations.dixa.conversation import Person
from pgap.services.card import EMPLOYEE_FIELD, CardRequest, card_answer

MAX_BODY_BYTES = 64 * 1024
# A placeholder Dixa left as it was (no value for this conversation) counts as no value.
UNFILLED = re.compile(r"^\{\{\s*[A-Za-z_]+\s*\}\}$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{0,39}$")
_email = EmailValidator()


class CardKeyAuthentication(ApiKeyAuthentication):
    realm = "card"


class CardJSONParser(JSONParser):
    """DRF's JSON parser with a size limit, and nesting too deep for Python's parser
    answered as bad JSON (400) instead of an error."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = stream.read(MAX_BODY_BYTES + 1)
        if len(data) > MAX_BODY_BYTES:
            raise ParseError(f"the body is over {MAX_BODY_BYTES // 1024} KiB")
        try:
            document = json.loads(data, parse_constant=_no_constant)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc
        except ValueError as exc:  # also UnicodeDecodeError
            raise ParseError(f"JSON parse error - {exc}") from exc
        try:
            # What is echoed and sent on must be writable as JSON again: no lone surrogate
            # (\ud800) and no number beyond a double (1e999).
            json.dumps(document, ensure_ascii=False, allow_nan=False).encode()
        except (ValueError, UnicodeEncodeError) as exc:
            raise ParseError(
                "JSON parse error - the body holds an unpaired surrogate or a number out of range"
            ) from exc
        return document


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _filled(value: str) -> str:
    value = value.strip()
    return "" if UNFILLED.match(value) else value


def _checked_email(value: str, field: str) -> str:
    value = _filled(value)
    if not value:
        return ""
    # Plain addresses only: a quoted local part could carry markup into the card.
    if any(char in value for char in '"\\<>'):
        raise serializers.ValidationError(f"{field} is not a valid email address")
    try:
        _email(value)
    except (DjangoValidationError, UnicodeError) as exc:
        raise serializers.ValidationError(f"{field} is not a valid email address") from exc
    return value


class CardInputSerializer(serializers.Serializer):
    """The card's body: {employeeEmail?, customer_email, customer_phone_number}, each
    optional (Dixa fills what the conversation has); other keys are echoed as they came."""

    employeeEmail = serializers.CharField(  # noqa: N815  (nps.today's name)
        required=False, allow_blank=True, allow_null=True, max_length=254, trim_whitespace=True
    )
    customer_email = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=254
    )
    customer_phone_number = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=40
    )

    def validate_employeeEmail(self, value):  # noqa: N802
        return _checked_email(value or "", EMPLOYEE_FIELD)

    def validate_customer_email(self, value):
        return _checked_email(value or "", "customer_email")

    def validate_customer_phone_number(self, value):
        value = _filled(value or "")
        if value and not PHONE.match(value):
            raise serializers.ValidationError(
                "customer_phone_number is not a phone number (digits, spaces, + ( ) . / -)"
            )
        return value

    def card_request(self) -> CardRequest:
        data = self.validated_data
        body = {**self.initial_data, **data}  # the checked values replace what came
        customer = Person(
            email=data.get("customer_email") or None,
            phone=data.get("customer_phone_number") or None,
        )
        return CardRequest(customer=customer, agent_email=data.get(EMPLOYEE_FIELD, ""), body=body)


class DixaCardView(APIView):
    """Dixa calls it server side when an agent opens a conversation, and waits 10 s at most:
    the answer comes within the nps.today timeout (CARD_NPSTODAY_TIMEOUT_SECONDS) plus our
    own reads, with `feedback.available` false when nps.today gave no token."""

    authentication_classes = [CardKeyAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [CardJSONParser]
    http_method_names = ["post"]

    def initial(self, request, *args, **kwargs):
        # A wrong method is refused before credentials are looked at: 405, not 401.
        if request.method.lower() not in self.http_method_names:
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def post(self, request):
        if request.stream is None:
            raise ParseError("the body is empty: send the card's JSON body")
        serializer = CardInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        answer = card_answer(account=request.auth.account, request=serializer.card_request())
        return Response(answer)
