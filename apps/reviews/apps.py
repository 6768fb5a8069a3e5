from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "apps.reviews"
    label = "reviews"

    def ready(self) -> None:
        from apps.contracts.signals import contract_failed
        from apps.contracts.sql import runtime_contracts_sql
        from apps.reviews import receivers
        from apps.traces import signals

        contract_failed.connect(receivers.on_contract_failed, dispatch_uid="reviews.contract_failed")
        signals.steps_appended.connect(receivers.on_steps_appended, dispatch_uid="reviews.steps")
        # /decide evaluates this with its context; when it (or a stopping verdict) holds, its one-statement
        # write promises the task itself (see traces.signals).
        signals.steps_work_register(name="reviews.runtime_contracts", condition=runtime_contracts_sql,
                                    task="apps.reviews.tasks.episode_steps_task")
