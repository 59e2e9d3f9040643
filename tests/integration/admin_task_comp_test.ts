/**
 * `deno task admin` gives and ends comps and reports drift with the same code as `/rolepass`:
 * the comp is queued for role-sync, and drift reads the Discord double for the one server.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { runAdmin } from "../../functions/_cli/admin.ts";
import { BOT_TOKEN, withRoleSync } from "./role_sync_fixtures.ts";

const ALICE = "110000000000000001";

function capture() {
  const out: string[] = [];
  const error: string[] = [];
  return {
    out,
    error,
    output: { out: (text: string) => out.push(text), error: (text: string) => error.push(text) },
  };
}

Deno.test("admin grant gives the comp through role-sync, and admin drift then finds nothing to change", async () => {
  await withRoleSync(async (w) => {
    w.discord.addMember(w.guildId, ALICE);
    const env = {
      DATABASE_URL: w.db.url,
      DISCORD_BOT_TOKEN: BOT_TOKEN,
      DISCORD_API_BASE_URL: w.discord.apiBaseUrl,
    };
    const grant = capture();
    assertEquals(
      await runAdmin(
        ["grant"],
        { guild: w.guildId, member: ALICE, plan: w.goldRoleId, until: "2099-12-31" },
        env,
        grant.output,
      ),
      0,
    );
    assert(grant.out.join("\n").includes(`Gave <@${ALICE}> Gold`), grant.out.join("\n"));
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, ALICE), [w.goldRoleId]);

    const drift = capture();
    assertEquals(await runAdmin(["drift"], { guild: w.guildId }, env, drift.output), 0);
    const text = drift.out.join("\n");
    assert(text.includes("1 comp(s)"), text);
    assert(text.includes("No drift."), text);

    const missing = capture();
    assertEquals(
      await runAdmin(["grant"], { guild: w.guildId, member: ALICE }, env, missing.output),
      2,
    );
    assert(missing.error.join("\n").includes("--plan"), missing.error.join("\n"));
  });
});
