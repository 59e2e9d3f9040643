-- The notices outbox (20261202002200_notices.sql) and the reconciliation state
-- (20261202000901_reconciliation.sql) still spelled a Discord id and a language with checks of
-- their own. Their columns take the domains of 20261202002600_discord_id_and_locale_domains.sql
-- and the checks go, so each rule is written once.
--
-- A reconciliation's resume point is the id of the last member read, so it is a snowflake: the
-- old check allowed any 1 to 20 digits, and every value rolepass ever wrote is a member's id.

alter table rolepass.notices
  drop constraint notices_discord_user_id_check,
  drop constraint notices_locale_check,
  alter column discord_user_id type rolepass.discord_snowflake,
  alter column locale type rolepass.locale;

alter table rolepass.guild_reconciliations
  drop constraint guild_reconciliations_resume_after_check,
  alter column resume_after type rolepass.discord_snowflake;
