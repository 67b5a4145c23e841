from django.urls import URLPattern, URLResolver, path

from accounts.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/token", views.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/refresh", views.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("users/me", views.MeView.as_view(), name="users-me"),
    path("users/me/password", views.MePasswordView.as_view(), name="users-me-password"),
    path("users/me/subsonic-password", views.MeSubsonicPasswordView.as_view(), name="users-me-subsonic-password"),
    path("users/me/lastfm", views.MeLastFmView.as_view(), name="users-me-lastfm"),
    path("lastfm/callback", views.lastfm_callback, name="lastfm-callback"),
    path("users/me/api-keys", views.ApiKeyListView.as_view(), name="users-me-api-keys"),
    path("users/me/api-keys/<int:key_id>", views.ApiKeyDetailView.as_view(), name="users-me-api-key"),
    path("admin/users", views.AdminUserListView.as_view(), name="admin-users"),
    path("admin/users/<int:user_id>", views.AdminUserDetailView.as_view(), name="admin-user"),
    path(
        "admin/users/<int:user_id>/subsonic-password",
        views.AdminUserSubsonicPasswordView.as_view(),
        name="admin-user-subsonic-password",
    ),
]
