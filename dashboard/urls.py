from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from dashboard.accounts.views import SignInView
from dashboard.core import views as core_views
from dashboard.overview import views as overview_views

urlpatterns = [
    path("", include("dashboard.overview.urls")),
    path("healthz/", login_not_required(core_views.healthz), name="healthz"),
    path("readyz/", login_not_required(overview_views.readyz), name="readyz"),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("connections/", include("dashboard.connections.urls")),
    # /recipients/ and /connections/<pk>/recipients/...
    path("", include("dashboard.recipients.urls")),
    path("imports/", include("dashboard.imports.urls")),
    path("jobs/", include("dashboard.jobs.urls")),
    path("campaigns/", include("dashboard.campaigns.urls")),
    path("audit/", include("dashboard.audit.urls")),
]

handler403 = "dashboard.core.views.permission_denied"
