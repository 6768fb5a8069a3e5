"""SQL fragments the contracts app owns for other apps' statements.

`runtime_contracts_sql` is the reviews app's steps_appended work condition (traces.signals); /decide
evaluates it inside its context read (tests/policies/golden/decide_context_by_key.sql).
"""


def runtime_contracts_sql(project: str) -> str:
    """An SQL condition: the project (an SQL expression) checks runtime contracts."""
    return ("EXISTS (SELECT 1 FROM contracts_contract c JOIN contracts_contractversion v ON v.id = c.current_id"
            f" WHERE c.project_id = {project} AND c.enabled AND v.runtime)")
