"""The Django admin for accounts, referrer approval and the (read-only) audit trail."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from portal.models import AuditEvent, PracticeProfile, ReferrerProfile, User
from portal.services import referrer_approve
from portal.two_factor import otp_reset


class ReferrerProfileInline(admin.StackedInline):
    model = ReferrerProfile
    fk_name = "user"
    can_delete = False
    readonly_fields = ["approved_at", "approved_by", "created_at"]


@admin.register(ReferrerProfile)
class ReferrerProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "practice_name", "provider_number", "approved_at", "created_at"]
    list_filter = [("approved_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__email", "user__last_name", "practice_name", "provider_number"]
    readonly_fields = ["approved_at", "approved_by", "created_at"]
    actions = ["approve"]

    @admin.action(description="Approve the selected referrers (they can then submit)")
    def approve(self, request, queryset):
        count = 0
        for profile in queryset.filter(approved_at__isnull=True):
            referrer_approve(profile=profile, by=request.user)
            count += 1
        self.message_user(request, f"Approved {count} referrer{'s' if count != 1 else ''}.")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_active", "is_staff", "last_login"]
    list_filter = ["groups", "is_active", "is_staff", "is_superuser"]
    search_fields = ["email", "first_name", "last_name"]
    inlines = [ReferrerProfileInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Name", {"fields": ("first_name", "last_name")}),
        (
            "Access",
            {"fields": ("is_active", "groups", "is_staff", "is_superuser", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    readonly_fields = ["last_login", "date_joined"]
    actions = ["reset_two_factor"]

    @admin.action(description="Reset two-factor sign-in (lost device): they enrol again")
    def reset_two_factor(self, request, queryset):
        for user in queryset:
            otp_reset(user=user, by=request.user)
        self.message_user(request, f"Two-factor sign-in reset for {queryset.count()} user(s).")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, searched and read in the admin; written only by the portal's services."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the audit trail can be searched and read here, never changed or deleted."""

    list_display = ["at", "actor_email", "action", "referral", "object_repr", "ip_address"]
    list_filter = ["action"]
    search_fields = ["referral__reference", "actor_email"]
    list_select_related = ["referral"]
    # None removes every action, including the site-wide "delete selected".
    actions = None


@admin.register(PracticeProfile)
class PracticeProfileAdmin(admin.ModelAdmin):
    """The one row of contact details (also editable by the practice's admins at /practice/)."""

    list_display = ["name", "urgent_phone", "fax", "hours"]
    readonly_fields = ["updated_at"]

    def has_add_permission(self, request):
        return not PracticeProfile.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
