"""Records are evidence: besides their own pages being read-only (test_admin_readonly), no
delete elsewhere in the admin takes them along: deleting a mapping or an account that has
surveys or events is refused, for superusers too, and the records stay. A mapping with
surveys offers no delete at all (tests/ivr/test_admin.py)."""

import pytest
from django.contrib.admin.utils import get_deleted_objects
from django.contrib.auth.models import Permission

from integrations.admin.events import RecordAdmin
from integrations.models import Account, InboundEvent
from ivr.models import DeliveryAttempt, IvrMapping, SurveyTrigger
from tests.integrations.test_admin_scoping import admin_url, make_tenant, our_admins

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant(settings):
    settings.NPSTODAY_API_URL = settings.DIXA_API_URL = "http://127.0.0.1:1"
    return make_tenant("Mine")


@pytest.mark.parametrize("model", [IvrMapping, Account], ids=lambda m: m.__name__)
def test_deleting_what_records_hang_off_is_refused_and_they_stay(admin_client, tenant, model):
    target = tenant[model]
    # the confirmation page refuses (a mapping's) or says why and offers no confirmation
    page = admin_client.get(admin_url(model, "delete", target.pk))
    html = page.content.decode()
    assert page.status_code == 403
    assert "Yes, I’m sure" not in html
    # posting it anyway deletes nothing
    admin_client.post(admin_url(model, "delete", target.pk), {"post": "yes"})
    admin_client.post(
        admin_url(model, "changelist"),
        {"action": "delete_selected", "_selected_action": [target.pk], "post": "yes"},
    )
    assert model.objects.filter(pk=target.pk).exists()
    assert SurveyTrigger.objects.filter(pk=tenant[SurveyTrigger].pk).exists()
    assert InboundEvent.objects.filter(pk=tenant[InboundEvent].pk).exists()
    assert DeliveryAttempt.objects.filter(trigger=tenant[SurveyTrigger]).exists()


def test_every_record_admin_refuses_add_change_and_delete_to_a_superuser(rf, admin_user):
    request = rf.get("/")
    request.user = admin_user
    evidence = {
        "InboundEventAdmin",
        "RejectedDeliveryAdmin",
        "SurveyTriggerAdmin",
        "AuditEntryAdmin",
        "AlertIncidentAdmin",
        "SurveyResponseAdmin",
        "AgentPredictionAdmin",
    }
    records = [admin for _, admin in our_admins() if type(admin).__name__ in evidence]
    assert len(records) == len(evidence)
    for admin in records:
        assert isinstance(admin, RecordAdmin), admin
        assert not admin.has_add_permission(request), admin
        assert not admin.has_change_permission(request), admin
        assert not admin.has_delete_permission(request), admin


def test_a_records_inlines_cannot_add_change_or_delete(rf, admin_user, tenant):
    request = rf.get("/")
    request.user = admin_user
    for _, admin in our_admins():
        if not isinstance(admin, RecordAdmin):
            continue
        for inline in admin.get_inline_instances(request):
            assert not inline.has_add_permission(request, None), inline
            assert not inline.has_change_permission(request, None), inline
            assert not inline.can_delete, inline


def test_a_staff_user_with_every_permission_cannot_delete_a_mapping_with_surveys(
    client, django_user_model, tenant
):
    user = django_user_model.objects.create_user("del", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="ivr"))
    tenant[Account].members.add(user)
    client.force_login(user)
    mapping = tenant[IvrMapping]
    client.post(admin_url(IvrMapping, "delete", mapping.pk), {"post": "yes"})
    assert IvrMapping.objects.filter(pk=mapping.pk).exists()


def test_why_a_delete_is_refused_is_the_records_not_the_mapping(rf, admin_user, tenant):
    from django.contrib import admin

    request = rf.get("/")
    request.user = admin_user
    mapping = tenant[IvrMapping]
    _, _, perms_needed, _ = get_deleted_objects([mapping], request, admin.site)
    assert "survey trigger" in perms_needed


def test_no_page_offers_a_delete_it_then_refuses(admin_client, tenant):
    # given a superuser on each change page of ours with an object
    for model, _ in our_admins():
        if model not in tenant:
            continue
        target = tenant[model]
        delete = admin_url(model, "delete", target.pk)
        page = admin_client.get(admin_url(model, "change", target.pk)).content.decode()
        # when it offers a delete, then the delete page confirms it; otherwise it refuses
        confirm = admin_client.get(delete)
        if f'href="{delete}"' in page:
            assert "Yes, I’m sure" in confirm.content.decode(), model._meta.label
        else:
            assert confirm.status_code == 403, model._meta.label
