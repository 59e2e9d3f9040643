import { assert, assertEquals, assertRejects } from "../harness/assert.ts";
import { EnvFileError, parseEnvFile } from "../../functions/_cli/dev/env_file.ts";
import {
  DEFAULT_PORT,
  DevConfigError,
  loadDevSettings,
} from "../../functions/_cli/dev/settings.ts";
import { VARIABLES } from "../../functions/_cli/dev/variables.ts";

const LIVE = {
  DISCORD_PUBLIC_KEY: "a".repeat(64),
  DISCORD_APPLICATION_ID: "123456789012345678",
  DISCORD_BOT_TOKEN: "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.fake-bot-token-for-tests",
  STRIPE_SECRET_KEY: "sk_test_51FakeKeyForTests",
  STRIPE_WEBHOOK_SECRET: "whsec_FakeSecretForTests",
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadDevSettings(env);
  } catch (error) {
    if (error instanceof DevConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a DevConfigError");
}

Deno.test("with no credentials at all the runner starts the sandbox on port 8787", () => {
  const settings = loadDevSettings({ HOME: "/root" });
  assertEquals(settings.mode, "sandbox");
  assertEquals(settings.port, DEFAULT_PORT);
  assertEquals(DEFAULT_PORT, 8787);
  assertEquals(settings.credentials, undefined);
});

Deno.test("empty values copied from .env.example count as unset, so the sandbox starts", () => {
  const env = parseEnvFile(Deno.readTextFileSync(".env.example"));
  assertEquals(loadDevSettings(env).mode, "sandbox");
});

Deno.test("complete credentials start the live mode with every value parsed", () => {
  const settings = loadDevSettings({ ...LIVE, PORT: "9000" });
  assertEquals(settings.mode, "live");
  assertEquals(settings.port, 9000);
  assertEquals(settings.credentials?.discordApplicationId, LIVE.DISCORD_APPLICATION_ID);
});

Deno.test("a half-filled .env stops start-up naming each missing variable and where to get it", () => {
  const problems = problemsOf({
    DISCORD_PUBLIC_KEY: LIVE.DISCORD_PUBLIC_KEY,
    STRIPE_SECRET_KEY: LIVE.STRIPE_SECRET_KEY,
  });
  const missing = ["DISCORD_APPLICATION_ID", "DISCORD_BOT_TOKEN", "STRIPE_WEBHOOK_SECRET"];
  assertEquals(problems.length, missing.length);
  for (const name of missing) {
    const problem = problems.find((line) => line.startsWith(`${name} is missing`));
    assert(problem, `${name} is named`);
    assert(problem.includes("Where to get it:"), `${name} says where to get it`);
  }
  assert(
    problems.some((line) => line.includes("Discord Developer Portal > your application > Bot")),
  );
});

Deno.test("a malformed variable is named with what was expected", () => {
  const problems = problemsOf({ ...LIVE, STRIPE_SECRET_KEY: "pk_test_publishable", PORT: "http" });
  assertEquals(problems.length, 2);
  assert(
    problems.some((problem) => problem.startsWith("PORT is malformed")),
  );
  const stripe = problems.find((line) => line.startsWith("STRIPE_SECRET_KEY is malformed"));
  assert(stripe?.includes("expected sk_test_"), stripe);
  assert(stripe?.includes("Stripe Dashboard > Developers > API keys"), stripe);
  assert(!stripe?.includes("pk_test_publishable"), "the value itself is never echoed");
});

Deno.test(".env.example lists every variable the runner reads, each with a comment", () => {
  const text = Deno.readTextFileSync(".env.example");
  assert(text, "text is missing");
  for (const variable of VARIABLES) {
    const line = text.split("\n").findIndex((line) =>
      new RegExp(`^#? ?${variable.name}=`).test(line)
    );
    assert(line > 0, `${variable.name} is in .env.example`);
    const above = text.split("\n")[line - 1];
    assert(above?.startsWith("#"), `${variable.name} has a comment above it`);
  }
});

Deno.test(".env lines are parsed with quotes, export and comments", () => {
  const env = parseEnvFile(
    [
      "# comment",
      "export A=1",
      'B="two words # not a comment"',
      "C='single'",
      "D=plain # trailing comment",
      "E=",
    ].join("\n"),
  );
  assertEquals(env, { A: "1", B: "two words # not a comment", C: "single", D: "plain", E: "" });
});

Deno.test("a .env line that is not NAME=value stops start-up with its line number", async () => {
  await assertRejects(
    () => Promise.resolve().then(() => parseEnvFile("A=1\nnot an assignment\n", ".env")),
    EnvFileError,
    "Cannot read .env: line 2 is not NAME=value",
  );
  await assertRejects(
    () => Promise.resolve().then(() => parseEnvFile('A="open', ".env")),
    EnvFileError,
    "line 1 has an unclosed quote",
  );
});
