"""A fake Dixa REST API, after Dixa's OpenAPI document: the raw token in `Authorization`,
`{"data": …}` bodies, `GET /v1/queues`."""

from tests.fakes.base import FakeApi, Reply

QUEUES = [
    {"id": "986359e5-e201-48ab-84af-c7799e03e58c", "name": "Mail - General", "isDefault": True},
    {"id": "50a5427e-cfc3-4396-8f4f-a5bce5037d1b", "name": "Chat - Support", "isDefault": False},
]


class FakeDixa(FakeApi):
    name = "Dixa"
    scripted_paths = ("/v1/",)

    def __init__(self, tokens=("dixa-test-token",), queues=None):
        super().__init__()
        self.tokens = set(tokens)
        self.queues = queues or [dict(q) for q in QUEUES]

    def route(self, method, path, headers, body) -> Reply:
        if headers.get("authorization", "").strip() not in self.tokens:
            return Reply(401, {"message": "Unauthorized"})
        if method == "GET" and path == "/v1/queues":
            return Reply(200, {"data": self.queues})
        for queue in self.queues:
            if method == "GET" and path == f"/v1/queues/{queue['id']}":
                return Reply(200, {"data": queue})
        return Reply(404, {"message": "Not found"})
