""" "Resend dead letters since…" (an admin view of the survey triggers). Two steps, like the
list's bulk actions: the first submit shows how many dead letters would be resent and the
exact moment read from the form; only the second, confirmed one resends."""

from datetime import UTC, datetime

from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import ngettext

from integrations.admin.confirm import CONFIRMED
from integrations.audit.services import audit_record
from ivr.forms import ResendSinceForm
from ivr.models import SurveyTrigger
from ivr.services import operations

TEMPLATE = "admin/ivr/surveytrigger/resend_since.html"


def moment(since: datetime) -> str:
    """ "2026-12-07 16:00 UTC" (with the seconds when there are any)."""
    utc = since.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S UTC" if utc.second else "%Y-%m-%d %H:%M UTC")


def resend_since_view(model_admin, request):
    if not model_admin.has_operate_permission(request):
        return redirect("admin:index")
    form = ResendSinceForm(request.POST or None)
    dead = model_admin.get_queryset(request).filter(status=SurveyTrigger.Status.FAILED)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Resend dead letters",
        "opts": model_admin.opts,
        "form": form,
        # The admin's own scripts (core.js, which the date and time pickers need) and the
        # form's, as Django's add and change views give them.
        "media": model_admin.media + form.media,
        "confirmed_name": CONFIRMED,
    }
    if request.method != "POST" or not form.is_valid():
        dead_letters = dead.count()
        context["dead_letters"] = ngettext(
            "%(count)d dead letter", "%(count)d dead letters", dead_letters
        ) % {"count": dead_letters}
        return TemplateResponse(request, TEMPLATE, context)

    since = form.cleaned_data["since"]
    targets = dead.filter(finished_at__gte=since)
    if request.POST.get(CONFIRMED) != "yes":
        count = targets.count()
        local = timezone.localtime(since)
        context.update(
            title=ngettext("Resend %(count)d dead letter?", "Resend %(count)d dead letters?", count)
            % {"count": count},
            confirming=True,
            count=count,
            moment=moment(since),
            since_date=local.strftime("%Y-%m-%d"),
            since_time=local.strftime("%H:%M:%S.%f"),
        )
        return TemplateResponse(request, TEMPLATE, context)

    with transaction.atomic():  # the surveys resent are the surveys audited
        pks = operations.survey_triggers_resend_failed_since(
            queryset=dead, since=since, by=request.user.get_username()
        )
        count = len(pks)
        audit_record(
            actor=request.user,
            action="survey resend since",
            objects=SurveyTrigger.objects.filter(pk__in=pks),
            summary=f"Resend the dead letters that failed since {moment(since)}",
            result=f"{count} resent",
        )
    message = ngettext(
        "%(count)d dead letter resent (failed since %(moment)s).",
        "%(count)d dead letters resent (failed since %(moment)s).",
        count,
    ) % {"count": count, "moment": moment(since)}
    previewed = request.POST.get("previewed", "")
    if previewed.isdigit() and int(previewed) != count:
        message += f" {previewed} were shown: the dead letters changed meanwhile."
    model_admin.message_user(request, message)
    return redirect("admin:ivr_surveytrigger_changelist")
