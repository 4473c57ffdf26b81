"""A fake Slack-style incoming webhook: takes a JSON POST with a `text`, answers "ok"."""

import json

from tests.fakes.base import FakeApi, Reply


class FakeChatWebhook(FakeApi):
    name = "chat-webhook"
    scripted_paths = ("/hooks/",)

    def route(self, method: str, path: str, headers: dict, body: bytes) -> Reply:
        if method != "POST" or not path.startswith("/hooks/"):
            return Reply(404, {"error": "no such hook"})
        try:
            document = json.loads(body)
        except ValueError:
            return Reply(400, {"error": "invalid_payload"})
        if not isinstance(document, dict) or not document.get("text"):
            return Reply(400, {"error": "no_text"})
        return Reply(200, "ok")

    def messages(self) -> list[dict]:
        return [r.json() for r in self.recorded("/hooks/") if r.status == 200]
