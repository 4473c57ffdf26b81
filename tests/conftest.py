import os

import pytest
from django.conf import settings

from integrations.services import queueing

SERVICE_NAMES = {"postgres": "PostgreSQL", "redis": "Redis", "chromium": "Chromium"}
# Under pytest-xdist (make test), the tests that start process stacks all run in one test
# process, one after the other: two stacks at once would crowd two cores.
PROCESS_STACKS = pytest.mark.xdist_group("process-stacks")


def _missing_service(item) -> str | None:
    for service, label in SERVICE_NAMES.items():
        if service in item.keywords and service in settings.SERVICES_MISSING:
            return f"{label} unavailable: {settings.SERVICES_MISSING[service]}"
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres`, `redis` or `chromium` skip when the service is missing, or
    fail with REQUIRE_SERVICES=1 (as CI runs)."""
    required = os.environ.get("REQUIRE_SERVICES") == "1"  # pytest_runtest_setup fails them
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(PROCESS_STACKS)
        reason = None if required else _missing_service(item)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_runtest_setup(item):
    if os.environ.get("REQUIRE_SERVICES") == "1":
        reason = _missing_service(item)
        if reason:
            pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)


def pytest_report_header(config):
    state = {
        label: settings.SERVICES_MISSING.get(key, "up") for key, label in SERVICE_NAMES.items()
    }
    return "services: " + "; ".join(f"{label}: {value}" for label, value in state.items())


def pytest_terminal_summary(terminalreporter):
    """One line naming each missing service and how many tests skipped for it (counted
    from the skip reasons, which reach this process from xdist's test processes too)."""
    skipped: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        for service, label in SERVICE_NAMES.items():
            if f"{label} unavailable: " in reason:
                skipped[service] = skipped.get(service, 0) + 1
    if not skipped:
        return
    parts = [
        f"{count} need {SERVICE_NAMES[s]} ({settings.SERVICES_MISSING.get(s, 'missing')})"
        for s, count in skipped.items()
    ]
    terminalreporter.write_line(
        "SKIPPED FOR LACK OF A SERVICE: " + "; ".join(parts) + ". Start or install the service, or "
        "set TEST_DATABASE_URL / REDIS_URL, to run them.",
        yellow=True,
        bold=True,
    )


@pytest.fixture(autouse=True)
def _fresh_enqueue_state():
    queueing.reset()
    yield
    queueing.reset()


@pytest.fixture
def account(db):
    from tests.integrations.factories import AccountFactory

    return AccountFactory()


@pytest.fixture
def issued_key(account):
    from integrations.services.api_keys import api_key_create

    return api_key_create(account=account, name="dixa")


@pytest.fixture
def staff_user_factory(db, django_user_model):
    from django.contrib.auth.models import Permission

    def make(username, *accounts, perms=()):
        user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
        codenames = perms or [
            f"{action}_{model}"
            for action in ("view", "change", "add", "delete")
            for model in ("account", "apikey", "signingsecret", "inboundevent", "rejecteddelivery")
        ]
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        for acc in accounts:
            acc.members.add(user)
        return user

    return make


@pytest.fixture
def fake_npstoday(settings):
    from tests.fakes.npstoday import FakeNpsToday

    fake = FakeNpsToday(api_keys=["nps-test-key"]).start()
    settings.NPSTODAY_API_URL = fake.url
    yield fake
    fake.stop()


@pytest.fixture
def fake_dixa(settings):
    from tests.fakes.dixa import FakeDixa

    fake = FakeDixa(tokens=["dixa-test-token"]).start()
    settings.DIXA_API_URL = fake.url
    yield fake
    fake.stop()
