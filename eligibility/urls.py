"""The eligibility checker's URL: POST /api/eligibility."""

from django.urls import path

from eligibility import views

urlpatterns = [
    path("api/eligibility", views.eligibility_api, name="eligibility_api"),
]
