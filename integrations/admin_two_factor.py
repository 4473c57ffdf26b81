"""The admin's sign-in with a second factor: the login form asks for a code from whoever has
an authenticator, and one page enrolls or verifies one (integrations/services/two_factor)."""

import django_otp
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from integrations.services.two_factor import (
    enrollment_qr_svg,
    enrollment_secret,
    totp_device,
    totp_enrollment,
    totp_enrollment_confirm,
    totp_throttle,
)

CODE = forms.CharField(
    label="Authentication code",
    required=False,
    max_length=8,
    widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    help_text="From your authenticator app, if you set one up.",
)


class RelayAuthenticationForm(AdminAuthenticationForm):
    otp_token = CODE

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        device = totp_device(user)
        if device is None:
            return
        token = self.cleaned_data.get("otp_token", "").strip()
        throttle = totp_throttle(device) if token else None  # as in two_factor_view
        if throttle is not None:
            raise forms.ValidationError(throttle.message, code="otp_throttled")
        if not token or not device.verify_token(token):
            raise forms.ValidationError(
                "Enter the current code from your authenticator app.", code="otp"
            )
        user.otp_device = device  # django-otp marks the session verified on login


class CodeForm(forms.Form):
    otp_token = forms.CharField(
        label="Code", max_length=8, widget=CODE.widget, help_text="Six digits from the app."
    )


@sensitive_post_parameters("otp_token")
@never_cache
@login_required(login_url="admin:login")
def two_factor_view(request, admin_site):
    """Enroll an authenticator (no confirmed one yet) or verify this session with one."""
    if not request.user.is_staff:
        raise PermissionDenied
    device = totp_device(request.user)
    enrolling = device is None
    if enrolling:
        device = totp_enrollment(request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["otp_token"].strip()
        # django-otp checks no code for a while after a wrong one (see the service): say
        # so and for how long, rather than calling a right code wrong.
        throttle = totp_throttle(device)
        if throttle is not None:
            form.add_error("otp_token", throttle.message)
        elif totp_enrollment_confirm(device, token) if enrolling else device.verify_token(token):
            django_otp.login(request, device)
            next_url = request.GET.get("next", "")
            safe = url_has_allowed_host_and_scheme(
                next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            )
            return redirect(next_url if safe else reverse("admin:index"))
        else:
            form.add_error("otp_token", "That code is not right; try the current one.")
    context = {
        **admin_site.each_context(request),
        "title": "Set up a second factor" if enrolling else "Enter your code",
        "form": form,
        "enrolling": enrolling,
        "qr_svg": enrollment_qr_svg(device) if enrolling else "",
        "secret": enrollment_secret(device) if enrolling else "",
    }
    return TemplateResponse(request, "admin/two_factor.html", context)
