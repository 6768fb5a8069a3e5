"""Browser pages, mounted under /p/<project>/contracts/."""

from django.urls import path

from apps.contracts import views

app_name = "contracts"
urlpatterns = [
    path("", views.contract_list, name="list"),
    path("whatif/", views.whatif_list, name="whatif_list"),
    path("whatif/<int:job_id>/", views.whatif_detail, name="whatif_detail"),
    path("whatif/<int:job_id>/cancel/", views.whatif_cancel, name="whatif_cancel"),
    path("<str:name>/", views.contract_detail, name="detail"),
    path("<str:name>/toggle/", views.contract_toggle, name="toggle"),
]
