-- Two vocabularies spelled once: a Discord id (snowflake) and a language rolepass speaks. Each
-- column that repeated the check now has the domain as its type, and the column's own check goes.
-- The domains say exactly what the checks said, so every existing row already satisfies them.
-- The TypeScript side spells the same rules once too: functions/_core/discord_id.ts and
-- functions/_core/locale.ts.

create domain rolepass.discord_snowflake as text
  constraint discord_snowflake_digits check (value ~ '^[0-9]{17,20}$');

comment on domain rolepass.discord_snowflake is
  'A Discord id (guild, user, role, channel, application, interaction): 17 to 20 decimal digits. '
  'https://discord.com/developers/docs/reference#snowflakes';

create domain rolepass.locale as text
  constraint locale_supported check (value in ('ja', 'en'));

comment on domain rolepass.locale is
  'A language rolepass has messages for; functions/_core/locale.ts lists the same ones.';

-- Postgres refuses to change the type of a column that a column-specific trigger names
-- ("update of ..."): those two triggers are dropped here and recreated as they were below.
drop trigger memberships_enqueue_role_job on rolepass.memberships;
drop trigger plans_swap_role on rolepass.plans;

alter table rolepass.guilds
  drop constraint guilds_id_check,
  drop constraint guilds_operator_log_channel_id_check,
  drop constraint guilds_default_locale_check,
  alter column id type rolepass.discord_snowflake,
  alter column operator_log_channel_id type rolepass.discord_snowflake,
  alter column default_locale type rolepass.locale;

alter table rolepass.plans
  drop constraint plans_discord_role_id_check,
  alter column discord_role_id type rolepass.discord_snowflake;

alter table rolepass.memberships
  drop constraint memberships_discord_user_id_check,
  drop constraint memberships_entitled_role_id_check,
  drop constraint memberships_locale_check,
  alter column discord_user_id type rolepass.discord_snowflake,
  alter column entitled_role_id type rolepass.discord_snowflake,
  alter column locale type rolepass.locale;

alter table rolepass.link_tokens
  drop constraint link_tokens_discord_user_id_check,
  drop constraint link_tokens_locale_check,
  alter column discord_user_id type rolepass.discord_snowflake,
  alter column locale type rolepass.locale;

alter table rolepass.interaction_tokens
  drop constraint interaction_tokens_discord_user_id_check,
  drop constraint interaction_tokens_application_id_check,
  alter column discord_user_id type rolepass.discord_snowflake,
  alter column application_id type rolepass.discord_snowflake;

alter table rolepass.handled_interactions
  drop constraint handled_interactions_id_check,
  alter column id type rolepass.discord_snowflake;

alter table rolepass.checkout_attempts
  drop constraint checkout_attempts_locale_check,
  alter column locale type rolepass.locale;

alter table rolepass.role_comps
  drop constraint role_comps_discord_user_id_check,
  drop constraint role_comps_discord_role_id_check,
  alter column discord_user_id type rolepass.discord_snowflake,
  alter column discord_role_id type rolepass.discord_snowflake;

create trigger memberships_enqueue_role_job
  after insert or update of entitled, entitled_role_id on rolepass.memberships
  for each row execute function rolepass.enqueue_role_job();

create trigger plans_swap_role
  after update of discord_role_id on rolepass.plans
  for each row when (old.discord_role_id is distinct from new.discord_role_id)
  execute function rolepass.swap_plan_role();
