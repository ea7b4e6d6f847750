from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from portal.forms import EmailAuthenticationForm
from portal.roles import LANDING, user_roles


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


def home(request):
    """Send each person to the page for their role."""
    if not request.user.is_authenticated:
        return redirect("login")
    roles = user_roles(request.user)
    for role, url_name in LANDING.items():
        if role in roles:
            return redirect(url_name)
    if request.user.is_superuser:
        return redirect("admin:index")
    return render(request, "portal/no_role.html", status=403)


@never_cache
def healthz(request):
    """For load balancers and compose health checks: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")
