"""Sign-in: each role lands where its work starts; an address trying many names is held off."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_ip_address
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from dashboard.accounts.forms import SignInForm
from dashboard.accounts.permissions import has_capability
from dashboard.accounts.roles import Capability


def landing_url(user: Any) -> str:
    """Where ``user`` lands after signing in without a ``next`` page.

    Support staff (they look people up, and do not manage connections) start on the
    recipient search; everyone else on the overview.
    """
    if has_capability(user, Capability.SEARCH_RECIPIENTS) and not has_capability(
        user, Capability.MANAGE_CONNECTIONS
    ):
        return reverse("recipients:search_all")
    return reverse("overview")


class SignInView(auth_views.LoginView):
    """Django's sign-in, with a landing page by capability instead of LOGIN_REDIRECT_URL.

    A safe ``next`` still wins (``get_redirect_url`` checks it before this is consulted).
    """

    template_name = "accounts/login.html"
    form_class = SignInForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if address_failures(request) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            return render(
                request,
                "accounts/locked.html",
                {"cooloff_timedelta": settings.AXES_COOLOFF_TIME, "by_address": True},
                status=429,
            )
        return super().post(request, *args, **kwargs)

    def get_default_redirect_url(self) -> str:
        return landing_url(self.request.user)


def address_failures(request: HttpRequest) -> int:
    """Wrong passwords from ``request``'s address, for any user name, within the lockout time.

    django-axes locks a user name tried from one address (``AXES_LOCKOUT_PARAMETERS``); one
    password tried against many names from one address never reaches that limit, so this
    counts the same attempts by address alone, against the larger
    ``LOGIN_ADDRESS_FAILURE_LIMIT`` (an office behind one address has many people). The
    attempts are axes' rows in the database, so every web process counts the same ones.
    """
    address = get_client_ip_address(request)
    if not address:
        return 0
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    total = AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=since).aggregate(
        failures=Sum("failures_since_start")
    )["failures"]
    return int(total or 0)
