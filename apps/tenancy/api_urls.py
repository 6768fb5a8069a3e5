from django.urls import path

from apps.tenancy.api import MemberListApi, WhoAmIApi

app_name = "tenancy"
urlpatterns = [path("whoami", WhoAmIApi.as_view(), name="whoami"),
               path("members", MemberListApi.as_view(), name="members")]
