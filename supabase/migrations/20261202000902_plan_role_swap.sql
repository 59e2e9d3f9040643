-- A plan whose Discord role changes (plans:apply, or an edit by hand) moves every member it
-- entitles to the new role at once, rather than at their next Stripe event a month later. The
-- memberships' entitled role is rewritten here; their enqueue_role_job trigger queues one role
-- job each with the old role as the previous one, which role-sync applies as a swap (new role
-- first, so a paying member is never left without one). Deactivating a plan changes nothing for
-- its members: they keep the role until their subscriptions end.
create function public.swap_plan_role() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.memberships m
    set entitled_role_id = new.discord_role_id,
      change_cause = 'plan_role_changed',
      change_event_id = null
    where m.plan_id = new.id and m.entitled
      and m.entitled_role_id = old.discord_role_id;
  return null;
end;
$$;
revoke execute on function public.swap_plan_role() from public, anon, authenticated;

create trigger plans_swap_role
  after update of discord_role_id on public.plans
  for each row when (old.discord_role_id is distinct from new.discord_role_id)
  execute function public.swap_plan_role();
