-- The /decide read (policies.sql.context_sql(by_key=True)): one statement, no lock, for the API key
-- and everything the engine needs. The key's columns lead the row; nothing is used before the key
-- is checked. tests/policies/test_sql.py checks that this is exactly what the code builds.
WITH src AS (
  -- tenancy: the API key with this prefix and its project
  SELECT k.id, k.name, k.prefix, k.hashed, k.scopes, k.expires_at, k.revoked_at, k.last_used_at,
         p.id AS project_id, p.slug AS project_slug, p.name AS project_name
    FROM tenancy_apikey k JOIN tenancy_project p ON p.id = k.project_id
   WHERE k.prefix = %(prefix)s::text
)
SELECT src.*,
       -- traces: the episode
       e.id, e.status, e.environment, e.step_count, e.versions,
       -- policies: its guard
       g.untrusted, g.scanned_to, g.counts, g.narrowings, g.rev,
       -- traces: untrusted steps written since the guard's last scan
       e.step_count > coalesce(g.scanned_to, 0) AND EXISTS (
           SELECT 1 FROM traces_step s
            WHERE s.episode_id = e.id AND s.index >= coalesce(g.scanned_to, 0) AND s.provenance = 'untrusted'),
       -- policies: the project's bindings and the versions in force (sources stay out: engines are cached)
       (SELECT coalesce(json_agg(json_build_array(b.id, b.agent, b.environment, b.priority, v.id, v.digest)),
                        '[]'::json)
          FROM policies_policybinding b JOIN policies_policy p ON p.id = b.policy_id
          JOIN policies_policyversion v ON v.id = p.active_version_id
         WHERE b.project_id = src.project_id),
       -- governance: the calling agent's state (sanctions)
       a.state, a.suspended, a.revoked_tools, a.arg_bounds,
       -- receivers' work conditions (traces.signals; registered by reviews: runtime contracts)
       EXISTS (SELECT 1 FROM contracts_contract c JOIN contracts_contractversion v ON v.id = c.current_id
                WHERE c.project_id = src.project_id AND c.enabled AND v.runtime),
       -- policies: the decision's id
       nextval(pg_get_serial_sequence('policies_decision', 'id')),
       -- tenancy: the answer already stored under the call's idempotency key (NULLs without one)
       ik.fingerprint, ik.status, ik.response,
       -- policies: the provenance index rows of the call's values and the episode's untrusted sources,
       -- when the policy in force has provenance conditions for the tool (policies.prefetch; else NULL)
       (SELECT json_agg(json_build_array(pv.value, pv.trusted_step, pv.trusted_source, pv.untrusted_step,
                                         pv.untrusted_source))
          FROM policies_provenancevalue pv
         WHERE %(provenance)s::text[] IS NOT NULL AND pv.episode_id = e.id
           AND (pv.value = ANY(%(provenance)s::text[]) OR (pv.value >= 'source:' AND pv.value < 'source;')))
  FROM src
  LEFT JOIN traces_episode e ON e.project_id = src.project_id AND e.external_id = %(external_id)s::text
  LEFT JOIN policies_episodeguard g ON g.episode_id = e.id
  LEFT JOIN governance_agentstate a ON a.project_id = src.project_id AND a.agent = %(agent)s::text
  LEFT JOIN tenancy_idempotencykey ik ON ik.api_key_id = src.id AND ik.key = %(idempotency_key)s::text
