"""Dixa's REST API (the raw token goes in Authorization, as Dixa's own clients send it)."""

from dataclasses import dataclass

from django.conf import settings

from integrations.clients.http import get_json


@dataclass(frozen=True)
class Queue:
    id: str
    name: str


def list_queues(token: str) -> list[Queue]:
    body = get_json(f"{settings.DIXA_API_URL}/v1/queues", headers={"Authorization": token})
    return [Queue(id=q["id"], name=q.get("name", "")) for q in body.get("data", []) if "id" in q]
