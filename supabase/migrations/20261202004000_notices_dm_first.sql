-- Member notices go by DM first (issue 11): a DM carries the notice's nonce with `enforce_nonce`,
-- so a retry after a lost answer gets the first message back instead of posting a second. A
-- follow-up takes no nonce; it is used only when the DM is impossible, tried once, and a follow-up
-- whose outcome is unknown ends the notice. Discord remembers a nonce only "in the past few
-- minutes", so a DM is not posted again once that window has passed since its first post; and a
-- member's notices go out in the order they were written, so a retried message is never told
-- after the change that followed it.

-- When the notice's message was first posted (or tried): the nonce protects retries from then on.
alter table rolepass.notices add column first_post_at timestamptz;

-- A member's open notices, oldest first: the claim skips a notice while an older one is open.
create index notices_member_open_idx on rolepass.notices (guild_id, discord_user_id, id)
  where status in ('pending', 'running') and audience = 'member';

-- Claims up to `max_notices` due notices with a lease, oldest due first, through notices_open_idx.
-- A notice another claimer holds is skipped, not waited for; so is a member notice while an older
-- notice to the same member in the same guild is open (their messages keep their order).
create or replace function rolepass.claim_notices(max_notices integer, lease_seconds integer)
returns table (
  id bigint, guild_id text, audience text, discord_user_id text, kind text, locale text,
  payload jsonb, attempts integer, claim_id uuid, nonce text, followup_tried boolean,
  log_channel_id text, interaction_token text, interaction_application_id text
)
language plpgsql
security definer
set search_path = ''
as $$
begin
  return query
  with due as (
    select n.id from rolepass.notices n
    where n.status in ('pending', 'running') and n.next_attempt_at <= now()
      and (n.lease_expires_at is null or n.lease_expires_at <= now())
      and not (n.audience = 'member' and exists (
        select 1 from rolepass.notices earlier
        where earlier.audience = 'member' and earlier.status in ('pending', 'running')
          and earlier.guild_id = n.guild_id and earlier.discord_user_id = n.discord_user_id
          and earlier.id < n.id
      ))
    order by n.next_attempt_at
    limit greatest(max_notices, 0)
    for update skip locked
  ), claimed as (
    update rolepass.notices n
      set status = 'running', attempts = n.attempts + 1, claim_id = gen_random_uuid(),
        lease_expires_at = now() + make_interval(secs => lease_seconds)
      from due where n.id = due.id
      returning n.*
  )
  select c.id, c.guild_id::text, c.audience, c.discord_user_id::text, c.kind, c.locale::text,
    c.payload, c.attempts, c.claim_id, c.nonce, c.followup_tried_at is not null,
    g.operator_log_channel_id::text, t.token::text, t.application_id::text
  from claimed c
  join rolepass.guilds g on g.id = c.guild_id
  -- Discord interaction tokens live 15 minutes; one about to expire is not worth trying.
  left join rolepass.interaction_tokens t on c.audience = 'member' and t.guild_id = c.guild_id
    and t.discord_user_id = c.discord_user_id and t.expires_at > now() + interval '30 seconds';
end;
$$;
revoke execute on function rolepass.claim_notices(integer, integer)
  from public, anon, authenticated;
grant execute on function rolepass.claim_notices(integer, integer) to service_role;

-- Takes the right to post the notice's channel message now: stamps its first post, and is false
-- once `window_seconds` have passed since then (Discord may have forgotten the nonce, so a post
-- could be a second copy) or when the claim is no longer held.
create function rolepass.begin_notice_post(notice_id bigint, claim uuid, window_seconds integer)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  first_post timestamptz;
begin
  update rolepass.notices set first_post_at = coalesce(first_post_at, now())
    where id = notice_id and claim_id = claim and status = 'running'
    returning first_post_at into first_post;
  return found and first_post > now() - make_interval(secs => window_seconds);
end;
$$;
revoke execute on function rolepass.begin_notice_post(bigint, uuid, integer)
  from public, anon, authenticated;
grant execute on function rolepass.begin_notice_post(bigint, uuid, integer) to service_role;

-- Gives back the follow-up's one try when Discord certainly did not post it (a 429, or no rate
-- limit slot before the call was sent).
create function rolepass.release_notice_followup(notice_id bigint, claim uuid) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.notices set followup_tried_at = null
    where id = notice_id and claim_id = claim and status = 'running';
  return found;
end;
$$;
revoke execute on function rolepass.release_notice_followup(bigint, uuid)
  from public, anon, authenticated;
grant execute on function rolepass.release_notice_followup(bigint, uuid) to service_role;
