"""The one HTTP client every account's calls share keeps no cookie: what nps.today or Dixa
set for one account's call is never sent with another's."""

import httpx
import respx

from integrations.clients import http


@respx.mock
def test_a_cookie_set_by_one_call_is_not_sent_with_the_next():
    # given an API that sets a cookie on its answer
    route = respx.get("https://api.example/whoami").mock(
        return_value=httpx.Response(200, headers={"Set-Cookie": "session=account-a; Path=/"})
    )
    # when two calls go out through the shared client (for two accounts)
    http.client().get("https://api.example/whoami", headers={"Authorization": "apikey a"})
    http.client().get("https://api.example/whoami", headers={"Authorization": "apikey b"})
    # then the second carries no cookie, and the client kept none
    assert "cookie" not in route.calls[1].request.headers
    assert len(http.client().cookies) == 0
