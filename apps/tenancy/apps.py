from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "apps.tenancy"
    label = "tenancy"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from apps.tenancy.receivers import on_user_logged_in

        user_logged_in.connect(on_user_logged_in, dispatch_uid="tenancy.invitations")
