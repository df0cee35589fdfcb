"""Sign-in: each role lands where its work starts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.urls import reverse

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
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return landing_url(self.request.user)
