/**
 * `deno task commands:register` against the Discord double, which checks every request against
 * Discord's own OpenAPI description and its command naming rules.
 */
import { assert, assertEquals, assertRejects, first } from "../harness/assert.ts";
import { startDiscordDouble } from "../doubles/discord.ts";
import { COMMANDS } from "../../functions/_core/commands.ts";
import { createDiscordApi } from "../../functions/_shared/discord_api.ts";
import { registerCommands, RegistrationError } from "../../functions/_cli/register_commands.ts";

const GUILD_ID = "290926798626357999";

async function withDouble(
  fn: (discord: Awaited<ReturnType<typeof startDiscordDouble>>) => Promise<void>,
) {
  const discord = await startDiscordDouble({
    rateLimits: { enabled: false },
    botToken: "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.the-doubles-bot-token",
  });
  discord.addGuild({ id: GUILD_ID, name: "Test Guild" });
  try {
    await fn(discord);
  } finally {
    await discord.close();
  }
}

const PROJECT_ROOT = new URL("../../", import.meta.url);

/** Runs the task as `deno task` would; `cwd` (default the project root) is where `.env` is read. */
async function runCli(
  args: string[],
  env: Record<string, string>,
  cwd: string | URL = PROJECT_ROOT,
) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-check",
      `--config=${new URL("deno.json", PROJECT_ROOT).pathname}`,
      new URL("functions/_cli/register_commands.ts", PROJECT_ROOT).pathname,
      ...args,
    ],
    cwd,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("the registration payload is what Discord's API description accepts", async () => {
  await withDouble(async (discord) => {
    const registered = await registerCommands({
      api: createDiscordApi(discord.apiBaseUrl, discord.botToken),
      applicationId: discord.applicationId,
      guildId: null,
    });
    assertEquals(discord.specViolations(), []);
    assertEquals(registered.map((command) => command.name), ["subscribe", "rolepass"]);
    const [request] = discord.requests();
    assert(request, "request is missing");
    assertEquals(request.method, "PUT");
    assertEquals(request.path, `/applications/${discord.applicationId}/commands`);
    assertEquals(request.status, 200);
    assertEquals(request.body, COMMANDS);
  });
});

Deno.test("/subscribe is registered with Japanese name and description", async () => {
  await withDouble(async (discord) => {
    await registerCommands({
      api: createDiscordApi(discord.apiBaseUrl, discord.botToken),
      applicationId: discord.applicationId,
      guildId: null,
    });
    const [subscribe] = discord.commands();
    assert(subscribe, "subscribe is missing");
    assertEquals(subscribe.name, "subscribe");
    assertEquals(subscribe.name_localizations, { ja: "サブスク" });
    assert(subscribe.description_localizations?.ja?.includes("有料ロール"));
    assert(subscribe.description.length <= 100);
  });
});

Deno.test("/rolepass is registered for Manage Server, in servers only, with its subcommands in Japanese", async () => {
  await withDouble(async (discord) => {
    await registerCommands({
      api: createDiscordApi(discord.apiBaseUrl, discord.botToken),
      applicationId: discord.applicationId,
      guildId: null,
    });
    assertEquals(discord.specViolations(), []);
    const admin = discord.commands().find((command) => command.name === "rolepass");
    assert(admin, "the bulk overwrite holds /rolepass");
    assertEquals(admin.default_member_permissions, "32");
    assertEquals(admin.contexts, [0]);
    assert(admin.description_localizations?.ja?.includes("運営者"));
    const subcommands = admin.options ?? [];
    assertEquals(subcommands.map((option) => option.name), [
      "status",
      "overview",
      "failures",
      "retry",
      "grant",
      "revoke",
      "drift",
      "resync",
      "health",
      "onboarding",
      "dashboard",
    ]);
    for (const subcommand of subcommands) {
      assertEquals(subcommand.type, 1);
      assert(subcommand.name_localizations?.ja, `${subcommand.name} has a Japanese name`);
      assert(
        subcommand.description_localizations?.ja,
        `${subcommand.name} is described in Japanese`,
      );
      assert(subcommand.description.length <= 100);
    }
    const status = subcommands.find((option) => option.name === "status");
    assertEquals(
      (status as { options?: { type: number; name: string; required?: boolean }[] }).options
        ?.map(({ type, name, required }) => ({ type, name, required })),
      [{ type: 6, name: "member", required: true }],
    );
    const resync = subcommands.find((option) => option.name === "resync");
    assertEquals(resync?.name_localizations?.ja, "再同期");
    assertEquals(
      (resync as { options?: { type: number; name: string; required?: boolean }[] }).options
        ?.map(({ type, name, required }) => ({ type, name, required })),
      [{ type: 6, name: "member", required: true }],
    );
    const health = subcommands.find((option) => option.name === "health");
    assertEquals(health?.name_localizations?.ja, "診断");
    assertEquals((health as { options?: unknown[] }).options, undefined);
    const onboarding = subcommands.find((option) => option.name === "onboarding");
    assertEquals(onboarding?.name_localizations?.ja, "売上受取の登録");
    assertEquals((onboarding as { options?: unknown[] }).options, undefined);
    const dashboard = subcommands.find((option) => option.name === "dashboard");
    assertEquals(dashboard?.name_localizations?.ja, "売上の管理画面");
    assertEquals((dashboard as { options?: unknown[] }).options, undefined);
    const grant = subcommands.find((option) => option.name === "grant");
    assertEquals(
      (grant as { options?: { type: number; name: string; required?: boolean }[] }).options
        ?.map(({ type, name, required }) => ({ type, name, required })),
      [
        { type: 6, name: "member", required: true },
        { type: 8, name: "plan", required: true },
        { type: 3, name: "until", required: false },
      ],
    );
  });
});

Deno.test("the command line registers in one server when given --guild, idempotently", async () => {
  await withDouble(async (discord) => {
    const env = {
      DISCORD_APPLICATION_ID: discord.applicationId,
      DISCORD_BOT_TOKEN: discord.botToken,
      DISCORD_API_BASE_URL: discord.apiBaseUrl,
    };
    const first = await runCli(["--guild", GUILD_ID], env);
    assertEquals(first.code, 0, first.stderr);
    assert(first.stdout.includes(`in server ${GUILD_ID}`), first.stdout);
    const ids = discord.commands(GUILD_ID).map((command) => command.id);

    const second = await runCli([`--guild=${GUILD_ID}`], env);
    assertEquals(second.code, 0, second.stderr);
    assertEquals(discord.commands(GUILD_ID).map((command) => command.id), ids);
    assertEquals(discord.commands(GUILD_ID).length, COMMANDS.length);
    assertEquals(discord.commands(), []);
    assert(
      discord.requests().every((request) =>
        request.path === `/applications/${discord.applicationId}/guilds/${GUILD_ID}/commands`
      ),
    );
    assertEquals(discord.specViolations(), []);
  });
});

Deno.test("the command line takes the server from DISCORD_GUILD_ID, and registers globally without one", async () => {
  await withDouble(async (discord) => {
    const env = {
      DISCORD_APPLICATION_ID: discord.applicationId,
      DISCORD_BOT_TOKEN: discord.botToken,
      DISCORD_API_BASE_URL: discord.apiBaseUrl,
    };
    const scoped = await runCli([], { ...env, DISCORD_GUILD_ID: GUILD_ID });
    assertEquals(scoped.code, 0, scoped.stderr);
    assertEquals(discord.commands(GUILD_ID).length, COMMANDS.length);

    const global = await runCli([], env);
    assertEquals(global.code, 0, global.stderr);
    assert(global.stdout.includes("globally"), global.stdout);
    assertEquals(discord.commands().map((command) => command.name), ["subscribe", "rolepass"]);
  });
});

Deno.test("the command line names the missing configuration and calls nothing", async () => {
  await withDouble(async (discord) => {
    const result = await runCli([], { DISCORD_API_BASE_URL: discord.apiBaseUrl });
    assertEquals(result.code, 2);
    assert(result.stderr.includes("DISCORD_APPLICATION_ID is missing"), result.stderr);
    assert(result.stderr.includes("DISCORD_BOT_TOKEN is missing"), result.stderr);
    assertEquals(discord.requests(), []);
  });
});

Deno.test("a 429 is retried after Discord's retry_after", async () => {
  await withDouble(async (discord) => {
    discord.inject({
      method: "PUT",
      path: /commands$/,
      status: 429,
      retryAfterSeconds: 2,
      times: 1,
    });
    const waits: number[] = [];
    const registered = await registerCommands({
      api: createDiscordApi(discord.apiBaseUrl, discord.botToken),
      applicationId: discord.applicationId,
      guildId: GUILD_ID,
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    assertEquals(waits, [2000]);
    assertEquals(registered.length, COMMANDS.length);
    assertEquals(discord.requests().map((request) => request.status), [429, 200]);
  });
});

Deno.test("a wrong bot token fails once with Discord's reason, without retrying", async () => {
  await withDouble(async (discord) => {
    await assertRejects(
      () =>
        registerCommands({
          api: createDiscordApi(discord.apiBaseUrl, "not-the-token"),
          applicationId: discord.applicationId,
          guildId: null,
        }),
      RegistrationError,
      "Discord answered 401",
    );
    assertEquals(discord.requests().length, 1);
  });
});

Deno.test("--help prints the usage and exits 0 without any configuration", async () => {
  const result = await runCli(["--help"], {});
  assertEquals(result.code, 0, result.stderr);
  assert(result.stdout.startsWith("Usage: deno task commands:register"), result.stdout);
  assertEquals(result.stderr, "");
});

Deno.test("an unknown flag such as --gild is refused before anything is registered", async () => {
  await withDouble(async (discord) => {
    const env = {
      DISCORD_APPLICATION_ID: discord.applicationId,
      DISCORD_BOT_TOKEN: discord.botToken,
      DISCORD_API_BASE_URL: discord.apiBaseUrl,
    };
    const result = await runCli(["--gild", GUILD_ID], env);
    assertEquals(result.code, 2);
    assertEquals(
      result.stderr.trim(),
      "Unknown flag --gild. Run `deno task commands:register --help` for the usage.",
    );
    assertEquals(discord.requests(), []);
    assertEquals(discord.commands(), []);
  });
});

Deno.test("the credentials are read from .env, under the environment, as the other tasks do", async () => {
  await withDouble(async (discord) => {
    const folder = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        `${folder}/.env`,
        [
          `DISCORD_APPLICATION_ID=${discord.applicationId}`,
          `DISCORD_BOT_TOKEN="${discord.botToken}"`,
          "DISCORD_API_BASE_URL=https://discord.invalid/api/v10",
          `DISCORD_GUILD_ID=${GUILD_ID}`,
        ].join("\n"),
      );
      const result = await runCli([], { DISCORD_API_BASE_URL: discord.apiBaseUrl }, folder);
      assertEquals(result.code, 0, result.stderr);
      assertEquals(discord.commands(GUILD_ID).length, COMMANDS.length);
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  });
});

Deno.test("an unreachable Discord is one sentence with the fix and exit 1, no stack trace", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = listener.addr.port;
  listener.close();
  const result = await runCli([], {
    DISCORD_APPLICATION_ID: "100000000000000009",
    DISCORD_BOT_TOKEN: "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.fake-bot-token-for-tests",
    DISCORD_API_BASE_URL: `http://127.0.0.1:${closedPort}/api/v10`,
  });
  assertEquals(result.code, 1);
  assertEquals(
    result.stderr.trim(),
    `Cannot reach Discord at http://127.0.0.1:${closedPort}/api/v10: the connection failed. ` +
      "Check the network, or DISCORD_API_BASE_URL if you set it.",
  );
});

Deno.test("a bot token Discord refuses is one sentence naming the variable to fix", async () => {
  await withDouble(async (discord) => {
    const result = await runCli([], {
      DISCORD_APPLICATION_ID: discord.applicationId,
      DISCORD_BOT_TOKEN: "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.not-the-doubles-token",
      DISCORD_API_BASE_URL: discord.apiBaseUrl,
    });
    assertEquals(result.code, 1);
    const lines = result.stderr.trim().split("\n");
    assertEquals(lines.length, 1, result.stderr);
    assert(
      first(lines, "an item of lines").startsWith("Cannot register commands: Discord answered 401"),
      lines[0],
    );
    assert(first(lines, "an item of lines").includes("Check DISCORD_BOT_TOKEN"), lines[0]);
  });
});
