/**
 * `deno task dev` with real-looking credentials, run as the real program: its start-up banner
 * says where each credential came from, and warns loudly when members would get links to this
 * machine because PUBLIC_SITE_URL is unset.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";

const root = new URL("../../", import.meta.url);
const BOT_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.fake-bot-token-for-tests";
const STRIPE_KEY = "sk_test_51FakeKeyForBannerTests";

/** The line the banner ends with in live mode. */
const BANNER_END = "stripe listen --forward-to";

/**
 * Starts dev.ts in `cwd` (whose `.env` it reads) with exactly `env`, reads its output until the
 * banner is complete (or it exits), then stops it as Ctrl-C would.
 */
async function startUpOutput(
  cwd: string,
  env: Record<string, string>,
): Promise<{ stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      new URL("deno.json", root).pathname,
      new URL("functions/_cli/dev.ts", root).pathname,
    ],
    cwd,
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderrText = new Response(child.stderr).text();
  let stdout = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    stdout += decoder.decode(chunk, { stream: true });
    if (stdout.includes(BANNER_END)) break;
  }
  if (stdout.includes(BANNER_END)) child.kill("SIGTERM");
  await child.status;
  return { stdout, stderr: await stderrText };
}

Deno.test("with real credentials and no PUBLIC_SITE_URL, dev warns that members get links to localhost and says where each credential came from", async () => {
  await withTestDatabase(async (db) => {
    const cwd = await Deno.makeTempDir({ prefix: "rolepass-dev-banner-" });
    try {
      await Deno.writeTextFile(
        `${cwd}/.env`,
        [
          `DISCORD_PUBLIC_KEY=${"a".repeat(64)}`,
          "DISCORD_APPLICATION_ID=123456789012345678",
          `DISCORD_BOT_TOKEN=${BOT_TOKEN}`,
          "STRIPE_SECRET_KEY=sk_test_51OverriddenByTheEnvironment",
        ].join("\n"),
      );
      const { stdout, stderr } = await startUpOutput(cwd, {
        STRIPE_SECRET_KEY: STRIPE_KEY,
        STRIPE_WEBHOOK_SECRET: "whsec_FakeSecretForBannerTests",
        DATABASE_URL: db.url,
        ROLE_SYNC_SECRET: "r".repeat(40),
        PORT: "0",
      });
      assert(stdout.includes(BANNER_END), `the runner started\n${stdout}\n${stderr}`);
      const title = stdout.split("\n").find((line) => line.startsWith("rolepass dev runner:"));
      assertEquals(
        title,
        "rolepass dev runner: live credentials from the environment (STRIPE_SECRET_KEY, " +
          "STRIPE_WEBHOOK_SECRET) and .env (DISCORD_PUBLIC_KEY, DISCORD_APPLICATION_ID, " +
          "DISCORD_BOT_TOKEN)",
      );
      const url = /Plan page\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout)?.[1];
      assert(url, stdout);
      const warning = stdout.split("\n").filter((line) => line.includes("!!!")).join("\n");
      assert(warning.includes("MEMBERS WILL GET LINKS TO LOCALHOST"), stdout);
      assert(
        warning.includes(
          `PUBLIC_SITE_URL is not set, so it defaults to this runner's address ${url}`,
        ),
        warning,
      );
      assert(warning.includes("Set PUBLIC_SITE_URL in .env to a public https URL"), warning);
      assert(!stdout.includes(BOT_TOKEN) && !stdout.includes(STRIPE_KEY), "no secret printed");
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  });
});
