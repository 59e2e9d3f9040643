import { assert, assertEquals, first } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import type postgres from "postgres";
import { insertGuildWithPlan, insertMembership, OTHER_ROLE_ID, ROLE_ID } from "./fixtures.ts";

async function count(sql: postgres.Sql, table: string): Promise<number> {
  const { n } = first(
    await sql.unsafe<{ n: number }[]>(`select count(*)::int as n from ${table}`),
    "a row",
  );
  return n;
}

async function fillVault(sql: postgres.Sql): Promise<void> {
  await sql`select vault.create_secret('http://127.0.0.1:9/functions/v1/role-sync',
    'role_sync_url')`;
  await sql`select vault.create_secret('s3cret-s3cret-s3cret', 'role_sync_secret')`;
}

Deno.test("every membership change writes one history row with its cause", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    const id = await insertMembership(sql);
    await sql`update rolepass.memberships set status = 'active', entitled = true,
      entitled_role_id = ${ROLE_ID}, change_cause = 'customer.subscription.created',
      change_event_id = 'evt_1' where id = ${id}`;
    await sql`update rolepass.memberships set cancel_at_period_end = true,
      change_cause = 'customer.subscription.updated', change_event_id = 'evt_2' where id = ${id}`;
    const history = await sql`
      select operation, cause, stripe_event_id, old_status, new_status, old_entitled, new_entitled
      from rolepass.membership_history where membership_id = ${id} order by id`;
    assertEquals(history.map((row) => ({ ...row })), [
      {
        operation: "INSERT",
        cause: "created",
        stripe_event_id: null,
        old_status: null,
        new_status: null,
        old_entitled: null,
        new_entitled: false,
      },
      {
        operation: "UPDATE",
        cause: "customer.subscription.created",
        stripe_event_id: "evt_1",
        old_status: null,
        new_status: "active",
        old_entitled: false,
        new_entitled: true,
      },
      {
        operation: "UPDATE",
        cause: "customer.subscription.updated",
        stripe_event_id: "evt_2",
        old_status: "active",
        new_status: "active",
        old_entitled: true,
        new_entitled: true,
      },
    ]);
  });
});

Deno.test("a history row keeps only the columns that changed, old and new", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    const id = await insertMembership(sql);
    await sql`update rolepass.memberships set status = 'active', entitled = true,
      entitled_role_id = ${ROLE_ID}, change_cause = 'customer.subscription.created'
      where id = ${id}`;
    await sql`delete from rolepass.memberships where id = ${id}`;
    const [inserted, updated, deleted] = await sql<{ changes: Record<string, unknown[]> }[]>`
      select changes from rolepass.membership_history where membership_id = ${id} order by id`;
    assert(inserted && updated && deleted, "three history rows");
    assertEquals(inserted.changes.id, [null, id]);
    assert(Object.values(inserted.changes).every(([old]) => old === null));
    assertEquals(updated.changes, {
      status: [null, "active"],
      entitled: [false, true],
      entitled_role_id: [null, ROLE_ID],
      entitled_role_ids: [[], [ROLE_ID]],
      change_cause: ["created", "customer.subscription.created"],
    });
    assertEquals(deleted.changes.status, ["active", null]);
    assert(!("updated_at" in inserted.changes), "updated_at is left out");
  });
});

Deno.test("an update that changes nothing writes no history", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    const id = await insertMembership(sql);
    await sql`update rolepass.memberships set locale = locale where id = ${id}`;
    assertEquals(await count(sql, "rolepass.membership_history"), 1);
  });
});

Deno.test("role jobs are queued exactly when the entitlement or the role changes", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    const id = await insertMembership(sql);
    assertEquals(await count(sql, "rolepass.role_jobs"), 0, "a new unentitled membership");

    await sql`update rolepass.memberships set status = 'active', entitled = true,
      entitled_role_id = ${ROLE_ID}, change_event_id = 'evt_grant' where id = ${id}`;
    assertEquals(await count(sql, "rolepass.role_jobs"), 1, "granted");

    await sql`update rolepass.memberships set cancel_at_period_end = true,
      current_period_end = now() + interval '30 days' where id = ${id}`;
    await sql`update rolepass.memberships set locale = 'en' where id = ${id}`;
    assertEquals(await count(sql, "rolepass.role_jobs"), 1, "unrelated updates queue nothing");

    await sql`update rolepass.memberships set entitled_role_id = ${OTHER_ROLE_ID} where id = ${id}`;
    assertEquals(await count(sql, "rolepass.role_jobs"), 2, "plan change swaps the role");

    await sql`update rolepass.memberships set status = 'canceled', entitled = false,
      entitled_role_id = null, change_event_id = 'evt_revoke' where id = ${id}`;
    const jobs = await sql`
      select entitled, role_id, previous_role_id, cause, status from rolepass.role_jobs
      order by id`;
    assertEquals(jobs.map((row) => ({ ...row })), [
      {
        entitled: true,
        role_id: ROLE_ID,
        previous_role_id: null,
        cause: "evt_grant",
        status: "pending",
      },
      {
        entitled: true,
        role_id: OTHER_ROLE_ID,
        previous_role_id: ROLE_ID,
        cause: "evt_grant",
        status: "pending",
      },
      {
        entitled: false,
        role_id: null,
        previous_role_id: OTHER_ROLE_ID,
        cause: "evt_revoke",
        status: "pending",
      },
    ]);
  });
});

Deno.test("a queued role job asks pg_net to call role-sync with the URL and secret from Vault", async () => {
  await withTestDatabase(async ({ sql }) => {
    await fillVault(sql);
    await insertGuildWithPlan(sql);
    const id = await insertMembership(sql);
    await sql`update rolepass.memberships set status = 'active', entitled = true,
      entitled_role_id = ${ROLE_ID} where id = ${id}`;
    const requests = await sql`select method, url, headers, body, timeout_milliseconds
      from net.http_request_queue`;
    assertEquals(requests.length, 1);
    const [request] = requests;
    assert(request, "request is missing");
    assertEquals(request.method, "POST");
    assertEquals(request.url, "http://127.0.0.1:9/functions/v1/role-sync");
    assertEquals(request.headers["x-rolepass-secret"], "s3cret-s3cret-s3cret");
    assertEquals(request.headers["Content-Type"], "application/json");
    assertEquals(request.body.type, "INSERT");
    assertEquals(request.body.table, "role_jobs");
    assertEquals(request.body.schema, "rolepass");
    assertEquals(request.body.old_record, null);
    assertEquals(request.body.record.membership_id, id);
    assert(request.timeout_milliseconds >= 1000);
  });
});

Deno.test("an empty Vault never fails the transaction that changed a membership", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    const id = await insertMembership(sql);
    await sql`update rolepass.memberships set status = 'active', entitled = true,
      entitled_role_id = ${ROLE_ID} where id = ${id}`;
    assertEquals(await count(sql, "rolepass.role_jobs"), 1, "the job is still queued");
    assertEquals(await count(sql, "net.http_request_queue"), 0, "nothing to send without Vault");
  });
});

Deno.test("a request queued in a rolled-back transaction is never sent", async () => {
  await withTestDatabase(async ({ sql }) => {
    await fillVault(sql);
    await insertGuildWithPlan(sql);
    const id = await insertMembership(sql);
    await sql.begin(async (tx) => {
      await tx`update rolepass.memberships set status = 'active', entitled = true,
        entitled_role_id = ${ROLE_ID} where id = ${id}`;
      await tx`rollback`.catch(() => {});
      throw new Error("abort");
    }).catch(() => {});
    assertEquals(await count(sql, "rolepass.role_jobs"), 0);
    assertEquals(await count(sql, "net.http_request_queue"), 0);
  });
});

Deno.test("the cron sweep is scheduled and calls role-sync only when jobs are due", async () => {
  await withTestDatabase(async ({ sql }) => {
    const jobs = await sql`select jobname, schedule, command from cron.job`;
    assert(
      jobs.some((job) =>
        job.jobname === "rolepass-role-sync-sweep" && job.schedule === "* * * * *"
      ),
      "the sweep runs every minute",
    );
    await fillVault(sql);
    await sql`select rolepass.sweep_role_jobs()`;
    assertEquals(await count(sql, "net.http_request_queue"), 0, "nothing due, nothing sent");

    await insertGuildWithPlan(sql);
    const id = await insertMembership(sql);
    await sql`update rolepass.memberships set status = 'active', entitled = true,
      entitled_role_id = ${ROLE_ID} where id = ${id}`;
    await sql`delete from net.http_request_queue`;
    await sql`select rolepass.sweep_role_jobs()`;
    const [request] = await sql`select body from net.http_request_queue`;
    assert(request, "request is missing");
    assertEquals(request.body.type, "SWEEP");
  });
});
