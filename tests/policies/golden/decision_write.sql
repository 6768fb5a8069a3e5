-- The routine /decide write (policies.sql.write_sql): one statement, committing by itself.
-- Built from fragments of six apps; shown here whole for a decision step whose agent, tool,
-- arguments, result and attributes are set (empty fields are written into the text as '' or NULL).
-- tests/policies/test_sql.py checks that this is exactly what the code builds.
WITH
  -- policies: the guard, only if no other decision of the episode was stored since the read (rev)
  g AS (
    INSERT INTO policies_episodeguard AS eg
      (episode_id, project_id, untrusted, scanned_to, counts, narrowings, updated_at, rev)
    VALUES (%(episode_id)s::bigint, %(project_id)s::bigint, %(g_untrusted)s::boolean, %(g_scanned_to)s::integer,
            %(g_counts)s::jsonb, '[]'::jsonb, %(now)s::timestamptz, 1)
    ON CONFLICT (episode_id) DO UPDATE
       SET untrusted = EXCLUDED.untrusted, scanned_to = EXCLUDED.scanned_to, counts = EXCLUDED.counts,
           updated_at = EXCLUDED.updated_at, rev = eg.rev + 1
     WHERE eg.rev = %(g_rev)s::bigint
    RETURNING eg.episode_id
  ),
  -- traces: the episode's next index (its row lock orders every writer of the episode) and summaries
  e AS (
    UPDATE traces_episode e
       SET step_count = e.step_count + 1,
           tools = CASE WHEN %(s_tool)s::text = '' OR %(s_tool)s::varchar = ANY(e.tools) THEN e.tools
                        ELSE array_append(e.tools, %(s_tool)s::varchar) END,
           agents = CASE WHEN NOT %(s_names_agent)s::boolean OR %(s_agent)s::text = ''
                              OR %(s_agent)s::varchar = ANY(e.agents) THEN e.agents
                         ELSE array_append(e.agents, %(s_agent)s::varchar) END,
           updated_at = %(now)s::timestamptz
     WHERE e.id = %(episode_id)s::bigint AND EXISTS (SELECT 1 FROM g)
    RETURNING e.step_count - 1 AS idx
  ),
  -- traces: the decision step at that index, its digest computed here over step_digest's text
  s AS (
    INSERT INTO traces_step (project_id, episode_id, index, kind, actor, agent, role, content, tool, arguments,
                             result, error, provenance, source, trace_id, span_id, parent_span_id, started_at,
                             ended_at, tokens_in, tokens_out, cost, attributes, digest, created_at)
    SELECT %(project_id)s::bigint, %(episode_id)s::bigint, e.idx, %(s_kind)s::text, %(s_actor)s::text,
           %(s_agent)s::text, '', '', %(s_tool)s::text, %(s_arguments)s::jsonb, %(s_result)s::jsonb, '',
           %(s_provenance)s::text, '', '', '', '', NULL, NULL, NULL, NULL, NULL, %(s_attributes)s::jsonb,
           encode(sha256(convert_to(%(s_prefix)s || e.idx || %(s_suffix)s, 'UTF8')), 'hex'),
           %(now)s::timestamptz
      FROM e
    RETURNING index
  ),
  -- policies: the Decision row, its id taken from the sequence by the context read
  d AS (
    INSERT INTO policies_decision (id, project_id, episode_id, step_index, agent, kind, tool, arguments,
                                   final_arguments, verdict, outcome, status, rule, message, policy_version_id,
                                   policy_digest, tier, evidence, created_at, latency_us)
    SELECT %(d_id)s::bigint, %(d_project_id)s::bigint, %(d_episode_id)s::bigint, s.index, %(d_agent)s::text,
           %(d_kind)s::text, %(d_tool)s::text, %(d_arguments)s::jsonb, %(d_final_arguments)s::jsonb, %(d_verdict)s::text,
           %(d_outcome)s::text, %(d_status)s::text, %(d_rule)s::text, %(d_message)s::text,
           %(d_policy_version_id)s::bigint, %(d_policy_digest)s::text, %(d_tier)s::text, %(d_evidence)s::jsonb,
           %(d_created_at)s::timestamptz, %(d_latency_us)s::integer
      FROM s
    RETURNING id
  ),
  -- audit: the "decision" event in the governance-log outbox, chained later by a flush
  o AS (
    INSERT INTO governance_logoutbox (project_id, created_at, actor, event, payload)
    SELECT %(project_id)s::bigint, %(now)s::timestamptz, %(o_actor)s::text, 'decision', %(o_payload)s::text
      FROM d
  ),
  -- tenancy: the call's idempotency key and its answer (the decision), when the call sent a key;
  -- a key another call took first fails the whole statement on the key's unique index
  k AS (
    INSERT INTO tenancy_idempotencykey (project_id, api_key_id, key, fingerprint, status, response, created_at,
                                        expires_at)
    SELECT %(project_id)s::bigint, %(k_api_key)s::bigint, %(k_key)s::text, %(k_fingerprint)s::text, 200,
           jsonb_build_object('decision_id', d.id), %(now)s::timestamptz, %(k_expires)s::timestamptz
      FROM d
     WHERE %(k_key)s::text IS NOT NULL
  ),
  -- core: the checks the new step calls for (a block's violation, runtime contracts; none for most
  -- allows), promised in the task outbox with the decision, each as task(episode id, step index)
  t AS (
    INSERT INTO core_taskoutbox (task, args, created_at, due_at, attempts)
    SELECT w.task, jsonb_build_array(%(episode_id)s::bigint, s.index), %(now)s::timestamptz,
           %(t_due)s::timestamptz, 0
      FROM s, unnest(%(t_tasks)s::text[]) AS w(task)
    RETURNING id, task
  )
-- no row back: the guard moved, nothing was written (the caller decides again); otherwise the
-- step index and the outbox rows to publish once committed
SELECT s.index, CASE WHEN %(async_commit)s THEN set_config('synchronous_commit', 'off', true) END,
       (SELECT json_agg(json_build_array(t.id, t.task)) FROM t)
  FROM s
