"""The Django admin for secure messaging: doctors known by provider number (a superuser links
one to an account, and their referrals move to it), messages received and letters sent."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model

from portal.admin import ReadOnlyAdmin
from referrals.hl7.identity import external_referrer_link
from referrals.models import ExternalReferrer, InboundMessage, Letter


class LinkForm(forms.ModelForm):
    user = forms.ModelChoiceField(
        queryset=get_user_model()
        .objects.filter(is_active=True, referrer_profile__isnull=False)
        .order_by("email"),
        required=False,
        help_text="The doctor's portal account: their referrals by secure message move to it.",
    )

    class Meta:
        model = ExternalReferrer
        fields = ["user"]


@admin.register(ExternalReferrer)
class ExternalReferrerAdmin(admin.ModelAdmin):
    form = LinkForm
    list_display = ["provider_number", "family_name", "given_name", "practice", "user"]
    search_fields = ["provider_number", "family_name", "practice"]
    readonly_fields = ["provider_number", "family_name", "given_name", "practice", "address",
                       "phone", "email", "created_at", "updated_at"]  # fmt: skip
    fields = ["user", *readonly_fields]

    def has_add_permission(self, request):
        return False  # made from the messages themselves

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        user = form.cleaned_data.get("user")
        if user is None:
            ExternalReferrer.objects.filter(pk=obj.pk).update(user=None)
            return
        moved = external_referrer_link(record=obj, user=user, by=request.user)
        self.message_user(request, f"Linked to {user.email}; {moved} referral(s) moved to the "
                          "account.", messages.SUCCESS)  # fmt: skip


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "sender", "control_id", "status", "channel", "referral"]
    list_filter = ["status", "channel"]
    search_fields = ["control_id", "sender", "referral__reference"]


@admin.register(Letter)
class LetterAdmin(ReadOnlyAdmin):
    list_display = ["referral", "event", "status", "ack_status", "attempts", "sent_at"]
    list_filter = ["status", "ack_status", "event"]
    search_fields = ["referral__reference", "control_id"]
