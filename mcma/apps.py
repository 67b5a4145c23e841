"""The admin app with mcma's own site (dashboard, search, downloads), installed in place of Django's default."""

from django.contrib.admin.apps import AdminConfig


class McmaAdminConfig(AdminConfig):
    default_site = "mcma.admin_site.MusicAdminSite"
