"""Top-level routes. Each area owns its own urls module."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import views
from sellers.views import two_factor

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("admin/", include("config.urls_staff")),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/login/verify/", two_factor.login_verify, name="login-verify"),
    # Forgot password: Django's views; the email goes to EMAIL_BACKEND (console until email delivery exists).
    path("accounts/password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("accounts/password/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("accounts/password/reset/complete/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
    path("accounts/two-factor/", two_factor.two_factor_view, name="two-factor"),
    path("api/v1/", include("config.urls_api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("dashboard/", include("sellers.urls")),
    path("me/", include("orders.urls_partner")),
    path("", include("payments.urls")),
    path("", include("orders.urls")),
    path("", RedirectView.as_view(url="/dashboard/", permanent=False), name="home"),
]

handler500 = "config.views.server_error"
