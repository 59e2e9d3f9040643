import { assert, assertEquals, assertRejects, first } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";

const GUILD_ID = "100000000000000041";
const ROLE_ID = "300000000000000041";

async function insertJobs(sql: Parameters<Parameters<typeof withTestDatabase>[0]>[0]["sql"]) {
  await sql`insert into rolepass.guilds (id, name) values (${GUILD_ID}, 'Queue guild')`;
  const members = ["200000000000000041", "200000000000000042", "200000000000000043"] as const;
  for (const member of members) {
    await sql`insert into rolepass.memberships (guild_id, discord_user_id, entitled, entitled_role_id)
      values (${GUILD_ID}, ${member}, true, ${ROLE_ID})`;
  }
  await sql`update rolepass.role_jobs set status = 'failed', last_error = 'Missing Permissions',
      created_at = now() - interval '2 hours'
    where discord_user_id = ${members[0]}`;
  await sql`update rolepass.role_jobs set last_error = 'HTTP 500', attempts = 2,
      created_at = now() - interval '10 minutes'
    where discord_user_id = ${members[1]}`;
}

Deno.test("the queue status view counts pending, failing and failed jobs and ages the oldest open one", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertJobs(sql);
    const [status] = await sql<
      {
        pending: string;
        failing: string;
        failed: string;
        running: string;
        oldest_open_seconds: number;
      }[]
    >`
      select pending, failing, failed, running,
        extract(epoch from oldest_open_age)::int as oldest_open_seconds
      from rolepass.role_job_queue_status`;
    assert(status, "status is missing");
    assertEquals(
      { pending: status.pending, failing: status.failing, failed: status.failed },
      { pending: "1", failing: "1", failed: "1" },
    );
    assertEquals(status.running, "0");
    assertEquals(Math.round(status.oldest_open_seconds / 60), 10);
  });
});

Deno.test("the queue status view is readable by service_role only", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertJobs(sql);
    const rows = await sql.begin(async (tx) => {
      await tx.unsafe("set local role service_role");
      return await tx`select failed from rolepass.role_job_queue_status`;
    });
    assertEquals(first(rows, "an item of rows").failed, "1");
    for (const role of ["anon", "authenticated"]) {
      await assertRejects(
        () =>
          sql.begin(async (tx) => {
            await tx.unsafe(`set local role ${role}`);
            await tx`select * from rolepass.role_job_queue_status`;
          }),
        Error,
        "permission denied",
        role,
      );
    }
  });
});
