-- Seed data for `supabase db reset` / `supabase start`. Operators declare their guilds and plans in
-- a plans file and apply it with `deno task plans:apply`; this file stays empty on purpose so a
-- reset never invents a plan that does not exist in Stripe.
select 1;
