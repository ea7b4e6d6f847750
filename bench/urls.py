"""The portal's URLs plus four baselines, served only with bench.settings."""

from django.urls import path

from bench import views
from portal.urls import urlpatterns as portal_urlpatterns

urlpatterns = [
    path("bench/table/", views.table, name="bench_table"),
    path("bench/lean/", views.lean, name="bench_lean"),
    path("bench/json/", views.json_body, name="bench_json"),
    path("bench/upload/", views.upload, name="bench_upload"),
    *portal_urlpatterns,
]
