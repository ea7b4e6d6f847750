from django.urls import path

from referrals import views

urlpatterns = [
    path("referrals/", views.referral_list, name="referral_list"),
    path("triage/", views.triage_queue, name="triage_queue"),
    path("reviews/", views.review_list, name="review_list"),
]
