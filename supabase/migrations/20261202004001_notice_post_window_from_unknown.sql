-- The nonce's window counts from the first post whose outcome is unknown, not from the first try:
-- a post Discord certainly did not make (no rate-limit slot yet, a 429) must not use up the window
-- while a backlog drains, or the message would be refused later without ever having been posted.

comment on column rolepass.notices.first_post_at is
  'When a post of this notice first ended with an unknown outcome (timeout, 5xx): a retry re-sends the nonce only within Discord''s window from then. Null while no post may have been made.';

-- Whether the notice's channel message may be posted now: false once `window_seconds` have passed
-- since a post whose outcome is unknown (Discord may have forgotten the nonce, so a post could be
-- a second copy), or when the claim is no longer held. Stamps nothing.
create or replace function rolepass.begin_notice_post(
  notice_id bigint, claim uuid, window_seconds integer
) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  first_post timestamptz;
begin
  select n.first_post_at into first_post from rolepass.notices n
    where n.id = notice_id and n.claim_id = claim and n.status = 'running';
  return found and (first_post is null
    or first_post > now() - make_interval(secs => window_seconds));
end;
$$;
revoke execute on function rolepass.begin_notice_post(bigint, uuid, integer)
  from public, anon, authenticated;
grant execute on function rolepass.begin_notice_post(bigint, uuid, integer) to service_role;

-- Records that a post of the notice may have been made (its answer was lost): the nonce's window
-- starts at the first such post.
create function rolepass.record_notice_post_unknown(notice_id bigint, claim uuid) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.notices set first_post_at = coalesce(first_post_at, now())
    where id = notice_id and claim_id = claim and status = 'running';
  return found;
end;
$$;
revoke execute on function rolepass.record_notice_post_unknown(bigint, uuid)
  from public, anon, authenticated;
grant execute on function rolepass.record_notice_post_unknown(bigint, uuid) to service_role;
