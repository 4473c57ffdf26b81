"""Reading the admin's pages in tests."""

import re


def buttons(page) -> dict[str, dict[str, str]]:
    """The page's action buttons: label -> the fields their form posts, and where."""
    found = {}
    for form in re.findall(
        r'<form method="post" action="([^"]+)" class="relay-object-tool">(.*?)</form>', page, re.S
    ):
        url, body = form
        label = re.search(r"<button[^>]*>([^<]+)…</button>", body)
        if label:
            fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', body))
            found[label.group(1)] = {"url": url.replace("&amp;", "&"), **fields}
    return found
