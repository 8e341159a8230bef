"""Two-factor pages: the login's code step, and enrolment/management of the authenticator.

Both are reachable with a password-only (unverified) session; the rules live in
sellers.two_factor and its middleware.
"""
from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from sellers.forms import SecondFactorForm, TotpConfirmForm
from sellers.two_factor import (
    has_two_factor,
    recovery_codes_left,
    recovery_codes_regenerate,
    safe_next,
    second_factor_check,
    totp_enrolment_confirm,
    totp_enrolment_start,
    totp_qr_svg,
    totp_secret,
    two_factor_disable,
    two_factor_required,
    url_with_next,
)


def _locked_out(request, credentials):
    """The password step's lockout, also for wrong codes: log out and show axes' page."""
    logout(request)
    return get_lockout_response(request, None, credentials)


@never_cache
@sensitive_post_parameters("code")
@login_required
def login_verify(request):
    user = request.user
    target = safe_next(request)
    if user.is_verified():
        return redirect(target)
    if not has_two_factor(user):
        return redirect(url_with_next("two-factor", target))
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        return _locked_out(request, credentials)
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = second_factor_check(user=user, code=form.cleaned_data["code"])
        if device is not None:
            otp_login(request, device)
            if isinstance(device, StaticDevice):
                messages.warning(request, f"You used a recovery code; {recovery_codes_left(user)} left. "
                                          "Make new ones in Two-factor login if you are running out.")
            return redirect(target)
        # A wrong code counts like a wrong password (same username + IP lockout).
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        if getattr(request, "axes_locked_out", False) or AxesProxyHandler.is_locked(request, credentials):
            request.axes_locked_out = False  # answered here, after logging out
            return _locked_out(request, credentials)
        form.add_error("code", "That code didn't work. Check your app's clock, wait for a new code, or use a "
                               "recovery code.")
    return render(request, "registration/login_verify.html", {"form": form, "next": target},
                  status=400 if form.errors else 200)


@never_cache
@sensitive_post_parameters("code")
@login_required
def two_factor_view(request):
    """Enrol when there is no authenticator yet; otherwise (verified) manage recovery codes or turn it off."""
    user = request.user
    target = safe_next(request)
    required = two_factor_required(user)
    if has_two_factor(user):
        if not user.is_verified():
            return redirect(url_with_next("login-verify", target))
        return _manage(request, user, required)
    device = totp_enrolment_start(user=user)
    form = TotpConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = totp_enrolment_confirm(user=user, device=device, code=form.cleaned_data["code"])
        if codes is not None:
            device.refresh_from_db()
            otp_login(request, device)
            return render(request, "registration/two_factor_codes.html", {"codes": codes, "next": target})
        form.add_error("code", "That code didn't match. Scan the QR code again or check the app's clock.")
    return render(request, "registration/two_factor_enrol.html", {
        "form": form, "qr_svg": totp_qr_svg(device), "secret": totp_secret(device), "required": required,
        "next": target}, status=400 if form.errors else 200)


def _manage(request, user, required: bool):
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "recovery-codes":
            return render(request, "registration/two_factor_codes.html", {
                "codes": recovery_codes_regenerate(user=user), "next": safe_next(request)})
        if action == "disable" and not required:
            two_factor_disable(user=user)
            messages.success(request, "Two-factor login is off. Your password alone now logs you in.")
            return redirect("two-factor")
    return render(request, "registration/two_factor_manage.html", {
        "required": required, "codes_left": recovery_codes_left(user)})
