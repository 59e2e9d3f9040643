-- customer.subscription.trial_will_end: the member is told their free trial ends soon (Stripe
-- sends it three days before), once per event, in the transaction that syncs the event.

-- Queues the trial-ending message of a trialing membership; the trial ends with its current
-- period. Returns the notice id, or null when the membership is not trialing or was told already.
create function rolepass.queue_trial_ending_notice(target_membership_id uuid, event_id text)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  membership rolepass.memberships;
  guild_name text;
  display jsonb;
begin
  select * into membership from rolepass.memberships m where m.id = target_membership_id;
  if not found or membership.status is distinct from 'trialing' then
    return null;
  end if;
  select g.name into guild_name from rolepass.guilds g where g.id = membership.guild_id;
  select p.display into display from rolepass.plans p where p.id = membership.plan_id;
  return rolepass.enqueue_member_notice(membership.guild_id, membership.discord_user_id,
    'trial_ending', membership.locale,
    jsonb_build_object('guildName', guild_name, 'plan', display,
      'at', membership.current_period_end),
    'trial_ending:' || event_id);
end;
$$;
revoke execute on function rolepass.queue_trial_ending_notice(uuid, text)
  from public, anon, authenticated;
grant execute on function rolepass.queue_trial_ending_notice(uuid, text) to service_role;
