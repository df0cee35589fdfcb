"""Recipient lookup and editing: the cross-connection search and one connection's recipients.

Included at the site root from ``dashboard.urls``: the per-connection pages live under
``connections/<pk>/recipients/`` beside (not inside) the connections app's own pages.
"""

from django.urls import path

from dashboard.recipients import views

app_name = "recipients"

urlpatterns = [
    path("recipients/", views.recipient_search_all, name="search_all"),
    path("connections/<int:pk>/recipients/", views.recipient_search, name="search"),
    path("connections/<int:pk>/recipients/new/", views.recipient_new, name="new"),
    path(
        "connections/<int:pk>/recipients/<str:remote_id>/",
        views.recipient_detail,
        name="detail",
    ),
    path(
        "connections/<int:pk>/recipients/<str:remote_id>/edit/",
        views.recipient_edit,
        name="edit",
    ),
    path(
        "connections/<int:pk>/recipients/<str:remote_id>/delete/",
        views.recipient_delete,
        name="delete",
    ),
]
