"""The Django admin for hospital sites, and read-only views of referrals and the email outbox."""

from django.contrib import admin

from portal.admin import ReadOnlyAdmin
from referrals.models import Attachment, Notification, Referral, Site, StatusEvent


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "address", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "address", "is_active"]}),
        (
            "Pre-procedure instructions (the booking letter; each booking keeps its own copy)",
            {"fields": ["arrival", "fasting", "what_to_bring"]},
        ),
    ]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StatusEventInline(ReadOnlyInline):
    model = StatusEvent
    fields = ["at", "from_status", "to_status", "by", "note"]
    readonly_fields = fields


class AttachmentInline(ReadOnlyInline):
    model = Attachment
    fields = ["original_name", "kind", "content_type", "size", "sha256", "uploaded_at"]
    readonly_fields = fields


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    """Read-only here: referrals change only through the portal's services (audited)."""

    list_display = ["reference", "status", "referrer", "eligibility_outcome", "updated_at"]
    list_filter = ["status", "eligibility_outcome"]
    search_fields = ["reference"]
    inlines = [StatusEventInline, AttachmentInline]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The email outbox, read-only: what was sent, what is waiting, what failed and why."""

    list_display = [
        "referral",
        "event",
        "recipient",
        "status",
        "attempts",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "event"]
    search_fields = ["referral__reference", "recipient"]
    readonly_fields = [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


from referrals.hl7 import admin as _hl7_admin  # noqa: E402,F401  registers its models
