-- A member notice that ends `failed` (given up after retries, a payload that cannot be read, or a
-- follow-up whose outcome stayed unknown) is shown to the operator once, as closed DMs are: the
-- member may never have been told, and only the operator can tell them another way. The line
-- names the member and what the notice was about (a role change by what it did), never the error.

-- Ends a claimed notice. A member's closed DMs and a member notice that failed are told to the
-- operator once each. The role job the notice belongs to shows the same outcome.
create or replace function rolepass.finish_notice(
  notice_id bigint, claim uuid, final_status text, error text default null
) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  notice rolepass.notices;
begin
  if final_status not in ('sent', 'dms_closed', 'not_sent', 'failed') then
    raise exception 'finish_notice: % is not a final status', final_status;
  end if;
  update rolepass.notices
    set status = final_status, last_error = error, done_at = now(), lease_expires_at = null
    where id = notice_id and claim_id = claim and status = 'running'
    returning * into notice;
  if not found then
    return false;
  end if;
  if notice.role_job_id is not null then
    update rolepass.role_jobs set notice_status = case final_status
        when 'sent' then 'sent' when 'dms_closed' then 'dms_closed' else 'not_sent' end
      where id = notice.role_job_id;
  end if;
  if final_status = 'dms_closed' and notice.audience = 'member' then
    perform rolepass.enqueue_operator_notice(notice.guild_id, 'member_dms_closed',
      jsonb_build_object('memberId', notice.discord_user_id, 'noticeKind', notice.kind),
      'dms_closed:' || notice.id);
  end if;
  if final_status = 'failed' and notice.audience = 'member' then
    perform rolepass.enqueue_operator_notice(notice.guild_id, 'member_notice_failed',
      jsonb_build_object('memberId', notice.discord_user_id, 'noticeKind',
        case when notice.kind = 'role_change'
          then coalesce(notice.payload ->> 'kind', notice.kind) else notice.kind end),
      'notice_failed:' || notice.id);
  end if;
  return true;
end;
$$;
revoke execute on function rolepass.finish_notice(bigint, uuid, text, text)
  from public, anon, authenticated;
grant execute on function rolepass.finish_notice(bigint, uuid, text, text) to service_role;
