-- A member's DM channel with the bot, kept once opened: every DM notice used to open it again
-- (POST /users/@me/channels), which spends Discord's global `dm_channels` capacity. Discord gives
-- the same channel for the same user, so one row per member serves every guild. A channel Discord
-- no longer knows (404, 10003 Unknown Channel) is dropped and opened again.

create table rolepass.member_dm_channels (
  discord_user_id rolepass.discord_snowflake primary key,
  channel_id rolepass.discord_snowflake not null,
  created_at timestamptz not null default now()
);
comment on table rolepass.member_dm_channels is
  'Each member''s DM channel with the bot, as Discord last opened it, reused by every DM '
  'notice. Read and written by role-sync (service_role only).';

alter table rolepass.member_dm_channels enable row level security;
revoke all on rolepass.member_dm_channels from public, anon, authenticated;
grant select, insert, update, delete on rolepass.member_dm_channels to service_role;
