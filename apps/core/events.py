"""The governance log's event names, in one place: what services write and the log page filters on.

Plain strings (not an Enum) so they go into SQL, JSON and the HMAC exactly as written.
"""


class LogEvent:
    MEMBER_ROLE_SET = "member.role_set"
    MEMBER_REMOVED = "member.removed"
    MEMBER_INVITED = "member.invited"
    INVITATION_WITHDRAWN = "member.invitation_withdrawn"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    LOG_CHECKPOINT = "log.checkpoint"
    LOG_KEY_ROTATED = "log.key_rotated"
    DECISION = "decision"
    APPROVAL_ANSWERED = "approval.answered"
    POLICY_PUBLISHED = "policy.published"
    POLICY_ACTIVATED = "policy.activated"
    POLICY_BOUND = "policy.bound"
    POLICY_UNBOUND = "policy.unbound"
    CONTRACT_PUBLISHED = "contract.published"
    VIOLATION_UPDATED = "violation.updated"
    GRAPH_PUBLISHED = "graph.published"
    GRAPH_ACTIVATED = "graph.activated"
    GOVERNANCE_TRANSITION = "governance.transition"
    SANCTION_APPLIED = "sanction.applied"
    SANCTION_LIFTED = "sanction.lifted"
    ANNOTATION_CREATED = "annotation.created"
    ANNOTATION_UPDATED = "annotation.updated"
    ANNOTATION_DELETED = "annotation.deleted"
