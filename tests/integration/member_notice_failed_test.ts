/**
 * A member notice that ends `failed` (given up after retries, unreadable, or a follow-up whose
 * outcome stayed unknown) is shown to the operator once, like closed DMs: role-sync against real
 * PostgreSQL and the Discord double.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { withRoleSync } from "./role_sync_fixtures.ts";

const ALICE = "400000000000000001";

Deno.test("a member notice that fails for good is told to the operator once", async () => {
  await withRoleSync(async (w) => {
    await w.db.sql`update rolepass.guilds set default_locale = 'en' where id = ${w.guildId}`;
    // The DM channel never opens: the notice is retried until it gives up.
    w.discord.inject({ method: "POST", path: "/users/@me/channels", status: 503 });
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    await w.settle();
    const [member] = await w.db.sql<{ status: string }[]>`
      select status from rolepass.notices where audience = 'member'`;
    assertEquals(member?.status, "failed");
    const operator = await w.db.sql<{ kind: string; status: string }[]>`
      select kind, status from rolepass.notices where audience = 'operator'`;
    assertEquals([...operator], [{ kind: "member_notice_failed", status: "sent" }]);
    const logged = w.discord.messages({ kind: "channel" });
    assertEquals(logged.length, 1);
    const line = first(logged, "the log line").content;
    assert(line.includes(`<@${ALICE}>`), line);
    assert(line.includes("role granted"), line);
    assert(!line.includes("503") && !line.includes("gave up"), line);
    assertEquals(w.discord.messages({ userId: ALICE }).length, 0);
  }, { operatorLogChannel: true });
});

Deno.test("an unreadable member notice is shown to the operator once", async () => {
  await withRoleSync(async (w) => {
    await w.addMember(ALICE);
    await w.db.sql`select rolepass.enqueue_member_notice(${w.guildId}, ${ALICE},
      'payment_failed', 'en', '{"guildName": 42}'::jsonb, 'test:unreadable')`;
    await w.settle();
    await w.settle();
    const operator = await w.db.sql<{ kind: string }[]>`
      select kind from rolepass.notices where audience = 'operator'`;
    assertEquals(operator.map((row) => row.kind), ["member_notice_failed"]);
    const logged = w.discord.messages({ kind: "channel" });
    assertEquals(logged.length, 1);
    const line = first(logged, "the log line").content;
    assert(line.includes(`<@${ALICE}>`) && line.includes("支払いの失敗"), line);
  }, { operatorLogChannel: true });
});
