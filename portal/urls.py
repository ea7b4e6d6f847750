"""The portal's URLs: accounts and sign-in, health, the admin, and each app's own."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portal import health, metrics, two_factor, views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/", two_factor.otp_verify, name="otp_verify"),
    path("accounts/two-factor/setup/", two_factor.otp_setup, name="otp_setup"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(success_url="/"),
        name="password_change",
    ),
    path("accounts/password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            template_name="registration/password_reset_done.html"
        ),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="registration/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/signup/thanks/", views.signup_done, name="signup_done"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("practice/", views.practice_profile, name="practice_profile"),
    path("practice.css", views.practice_css, name="practice_css"),
    path("", include("eligibility.urls")),
    path("", include("referrals.urls")),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "Vertebroplasty referrals: administration"
admin.site.site_title = "Vertebroplasty referrals"
