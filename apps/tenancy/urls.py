from django.urls import path

from apps.tenancy import views

urlpatterns = [
    path("members/", views.member_list, name="member_list"),
    path("members/<int:member_id>/remove/", views.member_remove, name="member_remove"),
    path("members/invitations/<int:invitation_id>/withdraw/", views.invitation_withdraw, name="invitation_withdraw"),
    path("keys/", views.api_key_list, name="api_key_list"),
    path("keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
