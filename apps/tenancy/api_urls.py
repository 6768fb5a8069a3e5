from django.urls import path

from apps.tenancy.api import WhoAmIApi

app_name = "tenancy"
urlpatterns = [path("whoami", WhoAmIApi.as_view(), name="whoami")]
