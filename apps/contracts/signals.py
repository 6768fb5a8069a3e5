"""Contract events for the apps above contracts (reviews records violations from them).

    contract_failed.send(sender=ContractVersion, episode=episode, name=str, version=str, severity=str,
                         first_step_index=int | None, evidence=dict, agent=str)

Sent inside the transaction that stores the failed verdict (Django signals run synchronously),
so the violation is recorded with the verdict or not at all.
"""

from django.dispatch import Signal

contract_failed = Signal()
