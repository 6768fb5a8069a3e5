"""API endpoints, mounted under /api/v1/."""

from django.urls import path

from apps.contracts import api

app_name = "contracts"
urlpatterns = [
    path("contracts", api.ContractListApi.as_view(), name="list"),
    path("contracts/validate", api.ContractValidateApi.as_view(), name="validate"),
    path("contracts/verdicts", api.VerdictListApi.as_view(), name="verdicts"),
    path("contracts/check", api.EpisodeCheckApi.as_view(), name="check"),
    path("contracts/whatif", api.WhatIfListApi.as_view(), name="whatif_list"),
    path("contracts/whatif/<int:job_id>", api.WhatIfDetailApi.as_view(), name="whatif_detail"),
    path("contracts/whatif/<int:job_id>/cancel", api.WhatIfCancelApi.as_view(), name="whatif_cancel"),
    path("contracts/<str:name>", api.ContractDetailApi.as_view(), name="detail"),
]
