-- A membership's roles are a set: the triggers on rolepass.memberships compare them as sets, so a
-- change that only reorders `entitled_role_ids` queues no role job, and a plan change that keeps
-- the roles in another order is told as a plan change. Run by `supabase test db` and by
-- `deno task test` (tests/db/pgtap_test.ts), in one transaction that is rolled back.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

select plan(9);

select ok(rolepass.same_role_set(array['1', '2'], array['2', '1']), 'order is ignored');
select ok(rolepass.same_role_set(array['1', '1', '2'], array['2', '1']), 'repeats are ignored');
select ok(rolepass.same_role_set('{}', null), 'no roles and null are the same empty set');
select ok(not rolepass.same_role_set(array['1', '2'], array['1']), 'a dropped role differs');
select ok(not rolepass.same_role_set(array['1'], array['1', '3']), 'an added role differs');

insert into rolepass.guilds (id, name) values ('100000000000000001', 'Test guild');
insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
    currency, billing_interval)
  values
    ('100000000000000001', 'price_gold', '300000000000000001', '{"en": {"name": "Gold"}}', 500,
      'jpy', 'month'),
    ('100000000000000001', 'price_silver', '300000000000000002', '{"en": {"name": "Silver"}}',
      500, 'jpy', 'month');
insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id)
  values ('100000000000000001', '200000000000000001', 'cus_1');
update rolepass.memberships
  set entitled = true, status = 'active', change_cause = 'evt_subscribed',
    entitled_role_ids = array['300000000000000001', '300000000000000002'],
    plan_id = (select id from rolepass.plans where stripe_price_id = 'price_gold');

select is((select count(*)::int from rolepass.role_jobs), 1, 'a grant queues a role job');

update rolepass.memberships
  set entitled_role_ids = array['300000000000000002', '300000000000000001'],
    change_cause = 'evt_reordered';
select is((select count(*)::int from rolepass.role_jobs), 1, 'a reorder queues no role job');

update rolepass.memberships
  set entitled_role_ids = array['300000000000000001', '300000000000000002'],
    plan_id = (select id from rolepass.plans where stripe_price_id = 'price_silver'),
    change_cause = 'evt_plan_changed';
select is(
  (select array_agg(kind order by id) from rolepass.notices where audience = 'member'),
  array['plan_changed'],
  'a plan change that keeps the roles in another order is told as a plan change'
);

update rolepass.memberships
  set entitled_role_ids = array['300000000000000002'], change_cause = 'evt_gold_dropped';
select is((select count(*)::int from rolepass.role_jobs), 2, 'a change of the set queues a job');

select * from finish();
rollback;
