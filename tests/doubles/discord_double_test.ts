import assert from "node:assert/strict";
import { startDiscordDouble as startUncheckedDiscordDouble } from "../../functions/_doubles/discord/index.ts";
import { type DiscordDouble, type DiscordDoubleOptions, startDiscordDouble } from "./discord.ts";
import { first } from "../harness/assert.ts";

const MEMBER = "200000000000000001";
const OTHER_USER = "200000000000000002";
const GUILD = "100000000000000001";
const MANAGE_ROLES = 1n << 28n;

const dmChannelExample = JSON.parse(
  await Deno.readTextFile(
    new URL(
      "../fixtures/discord/rest/discord-api-docs-dm-channel-example.json",
      import.meta.url,
    ),
  ),
);

/**
 * Starts a double with one guild, a paid role below the bot's and one member; closes it after.
 * Requests are checked against Discord's OpenAPI description unless `checked` is `false`.
 */
async function withDouble(
  { checked = true, ...options }: DiscordDoubleOptions & { checked?: boolean },
  test: (d: DiscordDouble, ids: { roleId: string }) => Promise<void>,
): Promise<void> {
  const discord = checked
    ? await startDiscordDouble(options)
    : startUncheckedDiscordDouble(options);
  try {
    discord.addGuild({
      id: GUILD,
      name: "Paid club",
      botPermissions: MANAGE_ROLES,
      botRolePosition: 10,
    });
    const role = discord.addRole(GUILD, {
      id: "300000000000000001",
      name: "supporter",
      position: 5,
    });
    discord.addMember(GUILD, MEMBER);
    await test(discord, { roleId: role.id });
  } finally {
    await discord.close();
  }
}

function call(
  d: DiscordDouble,
  method: string,
  path: string,
  init: {
    body?: unknown;
    headers?: Record<string, string>;
    token?: string | null;
    signal?: AbortSignal;
  } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token !== null) headers.Authorization = `Bot ${init.token ?? d.botToken}`;
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(`${d.apiBaseUrl}${path}`, {
    method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
}

async function expectJson(response: Response, status: number): Promise<Record<string, unknown>> {
  const body = await response.json();
  assert.equal(response.status, status, JSON.stringify(body));
  return body;
}

const rolePath = (roleId: string, userId = MEMBER) =>
  `/guilds/${GUILD}/members/${userId}/roles/${roleId}`;

Deno.test("an unknown path answers 404 and a wrong method 405, both recorded as spec violations", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d) => {
    assert.deepEqual(await expectJson(await call(d, "GET", "/guilds/1/nothing-here"), 404), {
      message: "404: Not Found",
      code: 0,
    });
    assert.deepEqual(await expectJson(await call(d, "POST", `/guilds/${GUILD}`), 405), {
      message: "405: Method Not Allowed",
      code: 0,
    });
    const outside = await fetch(`${d.url}/api/v9/users/@me`);
    assert.equal(outside.status, 404);
    await outside.body?.cancel();
    assert.deepEqual(d.specViolations().map((v) => v.kind), ["unknown-path", "unknown-method"]);
  });
});

Deno.test("a missing or wrong bot token answers 401 and counts as an invalid request", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d) => {
    const expected = { message: "401: Unauthorized", code: 0 };
    assert.deepEqual(
      await expectJson(await call(d, "GET", "/users/@me", { token: null }), 401),
      expected,
    );
    assert.deepEqual(
      await expectJson(await call(d, "GET", "/users/@me", { token: "stolen" }), 401),
      expected,
    );
    const me = await expectJson(await call(d, "GET", "/users/@me"), 200);
    assert.equal(me.id, d.applicationId);
    assert.equal(d.stats().unauthorized, 2);
    assert.equal(d.stats().invalid, 2);
  });
});

Deno.test("a body with an unknown field or a wrong type fails with 50035 and is a spec violation", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d) => {
    const unknown = await expectJson(
      await call(d, "POST", "/users/@me/channels", {
        body: { recipient_id: MEMBER, recipientId: MEMBER },
      }),
      400,
    );
    assert.equal(unknown.code, 50035);
    assert.equal(unknown.message, "Invalid Form Body");
    assert.deepEqual(unknown.errors, {
      recipientId: {
        _errors: [{
          code: "UNKNOWN_FIELD",
          message: "Field is not in Discord's OpenAPI description of this request body.",
        }],
      },
    });

    const channel = await expectJson(
      await call(d, "POST", "/users/@me/channels", { body: { recipient_id: MEMBER } }),
      200,
    );
    const wrongType = await expectJson(
      await call(d, "POST", `/channels/${channel.id}/messages`, {
        body: { content: 42, embeds: [{ title: 7 }] },
      }),
      400,
    );
    assert.deepEqual(wrongType.errors, {
      content: {
        _errors: [{ code: "BASE_TYPE_STRING", message: 'Could not interpret "42" as string.' }],
      },
      embeds: {
        "0": {
          title: {
            _errors: [{ code: "BASE_TYPE_STRING", message: 'Could not interpret "7" as string.' }],
          },
        },
      },
    });

    const notSnowflake = await expectJson(await call(d, "GET", "/guilds/club"), 400);
    assert.deepEqual(notSnowflake.errors, {
      guild_id: {
        _errors: [{ code: "NUMBER_TYPE_COERCE", message: 'Value "club" is not snowflake.' }],
      },
    });

    assert.deepEqual(d.specViolations().map((v) => [v.operationId, v.kind]), [
      ["create_dm", "body"],
      ["create_message", "body"],
      ["get_guild", "path-params"],
    ]);
    assert.equal(d.messages().length, 0);
  });
});

Deno.test("role add and remove answer 204 and record the decoded audit-log reason", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d, { roleId }) => {
    const reason = "購読開始 sub_123";
    const added = await call(d, "PUT", rolePath(roleId), {
      headers: { "X-Audit-Log-Reason": encodeURIComponent(reason) },
    });
    assert.equal(added.status, 204);
    assert.equal(await added.text(), "");
    assert.deepEqual(d.memberRoles(GUILD, MEMBER), [roleId]);

    const removed = await call(d, "DELETE", rolePath(roleId));
    assert.equal(removed.status, 204);
    await removed.body?.cancel();
    assert.deepEqual(d.memberRoles(GUILD, MEMBER), []);

    assert.deepEqual(
      d.auditLog().map((e) => [e.action, e.userId, e.roleId, e.reason]),
      [["member_role_add", MEMBER, roleId, reason], ["member_role_remove", MEMBER, roleId, null]],
    );
    assert.equal(first(d.requests(), "an item of d.requests()").auditLogReason, reason);
  });
});

Deno.test("role changes fail like Discord: 10007, 10011, 50013 for permissions and hierarchy", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d, { roleId }) => {
    assert.deepEqual(await expectJson(await call(d, "PUT", rolePath(roleId, OTHER_USER)), 404), {
      message: "Unknown Member",
      code: 10007,
    });
    assert.deepEqual(await expectJson(await call(d, "PUT", rolePath("399999999999999999")), 404), {
      message: "Unknown Role",
      code: 10011,
    });

    const atBotLevel = d.addRole(GUILD, { position: 10 });
    assert.deepEqual(await expectJson(await call(d, "PUT", rolePath(atBotLevel.id)), 403), {
      message: "Missing Permissions",
      code: 50013,
    });

    d.removeMember(GUILD, MEMBER);
    assert.equal((await expectJson(await call(d, "DELETE", rolePath(roleId)), 404)).code, 10007);

    d.addMember(GUILD, MEMBER);
    d.setBotRole(GUILD, { permissions: 0n });
    assert.equal((await expectJson(await call(d, "PUT", rolePath(roleId)), 403)).code, 50013);
    assert.deepEqual(d.memberRoles(GUILD, MEMBER), []);
    assert.equal(d.stats().forbidden, 2);
  });
});

Deno.test("an audit-log reason sent as raw non-ASCII or longer than 512 is refused", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d, { roleId }) => {
    // fetch refuses header characters above U+00FF outright; Latin-1 ones go out as raw bytes.
    const raw = await expectJson(
      await call(d, "PUT", rolePath(roleId), { headers: { "X-Audit-Log-Reason": "café" } }),
      400,
    );
    assert.equal(raw.code, 50035);
    const long = await call(d, "PUT", rolePath(roleId), {
      headers: { "X-Audit-Log-Reason": encodeURIComponent("あ".repeat(513)) },
    });
    assert.equal(long.status, 400);
    await long.body?.cancel();
    assert.deepEqual(d.specViolations().map((v) => v.kind), ["header", "header"]);
    assert.deepEqual(d.memberRoles(GUILD, MEMBER), []);
  });
});

Deno.test("a DM channel has the docs' shape, and a member with closed DMs gets 50007 on send", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d) => {
    const channel = await expectJson(
      await call(d, "POST", "/users/@me/channels", { body: { recipient_id: MEMBER } }),
      200,
    );
    for (const key of Object.keys(dmChannelExample)) {
      assert.ok(key in channel, `DM channel lacks ${key}`);
    }
    assert.equal(channel.type, 1);
    const [recipient] = channel.recipients as Record<string, unknown>[];
    assert(recipient, "recipient is missing");
    for (const key of Object.keys(dmChannelExample.recipients[0])) {
      assert.ok(key in recipient, `recipient lacks ${key}`);
    }
    assert.equal(recipient.id, MEMBER);

    const sent = await expectJson(
      await call(d, "POST", `/channels/${channel.id}/messages`, {
        body: { content: "ロールを付与しました" },
      }),
      200,
    );
    assert.equal(sent.channel_id, channel.id);

    d.setDmsClosed(MEMBER, true);
    const again = await expectJson(
      await call(d, "POST", "/users/@me/channels", { body: { recipient_id: MEMBER } }),
      200,
    );
    assert.equal(again.id, channel.id);
    assert.deepEqual(
      await expectJson(
        await call(d, "POST", `/channels/${channel.id}/messages`, { body: { content: "hi" } }),
        403,
      ),
      { message: "Cannot send messages to this user", code: 50007 },
    );
    assert.deepEqual(
      d.messages({ userId: MEMBER }).map((m) => [m.kind, m.content]),
      [["dm", "ロールを付与しました"]],
    );
  });
});

Deno.test("rate-limit headers count down within a guild's role bucket, then 429 with retry_after", async () => {
  await withDouble(
    { rateLimits: { buckets: { roles: { limit: 3, resetAfterSeconds: 10 } } } },
    async (d, { roleId }) => {
      const remaining: string[] = [];
      let bucket = "";
      for (let i = 0; i < 3; i++) {
        const response = await call(d, i % 2 === 0 ? "PUT" : "DELETE", rolePath(roleId));
        assert.equal(response.status, 204);
        await response.body?.cancel();
        assert.equal(response.headers.get("X-RateLimit-Limit"), "3");
        remaining.push(response.headers.get("X-RateLimit-Remaining")!);
        bucket = response.headers.get("X-RateLimit-Bucket")!;
        const reset = Number(response.headers.get("X-RateLimit-Reset"));
        assert.ok(
          Math.abs(
            reset * 1000 -
              (d.now() + Number(response.headers.get("X-RateLimit-Reset-After")) * 1000),
          ) < 50,
        );
      }
      assert.deepEqual(remaining, ["2", "1", "0"]);
      assert.match(bucket, /^[0-9a-f]{32}$/);

      const limited = await call(d, "PUT", rolePath(roleId));
      const body = await expectJson(limited, 429);
      assert.equal(body.message, "You are being rate limited.");
      assert.equal(body.global, false);
      assert.ok(
        typeof body.retry_after === "number" && body.retry_after > 9 && body.retry_after <= 10,
      );
      assert.equal(
        limited.headers.get("Retry-After"),
        String(Math.ceil(body.retry_after as number)),
      );
      assert.equal(limited.headers.get("X-RateLimit-Scope"), "user");
      assert.equal(limited.headers.get("X-RateLimit-Remaining"), "0");
      assert.equal(limited.headers.get("X-RateLimit-Bucket"), bucket);
      assert.equal(limited.headers.get("X-RateLimit-Global"), null);

      const otherGuild = d.addGuild({ botRolePosition: 10 });
      const otherRole = d.addRole(otherGuild.id, { position: 1 });
      d.addMember(otherGuild.id, MEMBER);
      const elsewhere = await call(
        d,
        "PUT",
        `/guilds/${otherGuild.id}/members/${MEMBER}/roles/${otherRole.id}`,
      );
      assert.equal(elsewhere.status, 204, "another guild has a bucket of its own");
      assert.equal(
        elsewhere.headers.get("X-RateLimit-Bucket"),
        bucket,
        "same route, same bucket hash",
      );
      await elsewhere.body?.cancel();

      d.advanceClock(10_000);
      const after = await call(d, "PUT", rolePath(roleId));
      assert.equal(after.status, 204);
      assert.equal(after.headers.get("X-RateLimit-Remaining"), "2");
      await after.body?.cancel();
      assert.equal(d.stats().rateLimited, 1);
      assert.equal(d.stats().invalid, 1);
    },
  );
});

Deno.test("the global limit answers a global 429, and interaction follow-ups are not bound by it", async () => {
  await withDouble(
    { rateLimits: { global: { limit: 4, resetAfterSeconds: 1 } } },
    async (d) => {
      d.registerInteraction("tok-global", { userId: MEMBER });
      for (let i = 0; i < 4; i++) {
        await expectJson(await call(d, "GET", `/guilds/${GUILD}/members/${MEMBER}`), 200);
      }
      const limited = await call(d, "GET", `/guilds/${GUILD}/roles`);
      const body = await expectJson(limited, 429);
      assert.equal(body.global, true);
      assert.equal(limited.headers.get("X-RateLimit-Global"), "true");
      assert.equal(limited.headers.get("X-RateLimit-Scope"), "global");
      assert.ok(Number(limited.headers.get("Retry-After")) >= 1);

      await expectJson(
        await call(d, "POST", `/webhooks/${d.applicationId}/tok-global`, {
          body: { content: "ok" },
          token: null,
        }),
        200,
      );
      d.advanceClock(1_000);
      await expectJson(await call(d, "GET", `/guilds/${GUILD}/roles`), 200);
      assert.equal(d.stats().rateLimitedGlobal, 1);
    },
  );
});

Deno.test("follow-ups work for 15 minutes, then the token answers 401 50027", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d) => {
    d.registerInteraction("tok-1", { guildId: GUILD, userId: MEMBER });
    const followup = await expectJson(
      await call(d, "POST", `/webhooks/${d.applicationId}/tok-1`, {
        body: { content: "ロールを付与しました", flags: 64 },
        token: null,
      }),
      200,
    );
    assert.equal(followup.flags, 64);
    const edited = await expectJson(
      await call(d, "PATCH", `/webhooks/${d.applicationId}/tok-1/messages/@original`, {
        body: { content: "済" },
      }),
      200,
    );
    assert.equal(edited.content, "済");

    d.advanceClock(15 * 60 * 1000);
    assert.deepEqual(
      await expectJson(
        await call(d, "POST", `/webhooks/${d.applicationId}/tok-1`, { body: { content: "late" } }),
        401,
      ),
      { message: "Invalid Webhook Token", code: 50027 },
    );
    assert.equal(
      (await expectJson(
        await call(d, "POST", `/webhooks/${d.applicationId}/never-issued`, {
          body: { content: "x" },
        }),
        401,
      ))
        .code,
      50027,
    );
    assert.equal(
      (await expectJson(
        await call(d, "POST", `/webhooks/123456789/tok-1`, { body: { content: "x" } }),
        404,
      )).code,
      10015,
    );
    assert.deepEqual(
      d.messages({ userId: MEMBER }).map((m) => [m.kind, m.content, m.ephemeral]),
      [["followup", "ロールを付与しました", true], ["original", "済", false]],
    );
  });
});

Deno.test("bulk command overwrite validates names, descriptions and locales like Discord", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d) => {
    const path = `/applications/${d.applicationId}/guilds/${GUILD}/commands`;
    const subscribe = {
      name: "subscribe",
      description: "Join the paid role",
      name_localizations: { ja: "購読" },
      description_localizations: { ja: "有料ロールに参加" },
      default_member_permissions: null,
      contexts: [0],
      type: 1,
    };
    const created = await expectJson(
      await call(d, "PUT", path, { body: [subscribe] }),
      200,
    ) as unknown as Record<
      string,
      unknown
    >[];
    assert.equal(first(created, "an item of created").name, "subscribe");
    assert.equal(first(created, "an item of created").guild_id, GUILD);
    const again = await expectJson(
      await call(d, "PUT", path, { body: [subscribe] }),
      200,
    ) as unknown as Record<
      string,
      unknown
    >[];
    assert.equal(
      first(again, "an item of again").id,
      first(created, "an item of created").id,
      "a command keeps its id across overwrites",
    );

    const bad = await expectJson(
      await call(d, "PUT", path, {
        body: [
          { name: "Subscribe", description: "x" },
          { name: "ok", description: "", name_localizations: { jp: "購読" } },
          { name: "long", description: "x".repeat(101) },
        ],
      }),
      400,
    );
    assert.equal(bad.code, 50035);
    assert.deepEqual(
      Object.keys(bad.errors as object),
      ["2"],
      "the schema's maxLength fails first",
    );

    const semantic = await expectJson(
      await call(d, "PUT", path, {
        body: [
          { name: "Subscribe", description: "x" },
          { name: "ok", description: "", name_localizations: { jp: "購読" } },
        ],
      }),
      400,
    );
    const errors = semantic.errors as Record<string, Record<string, Record<string, unknown>>>;
    const { "0": badName, "1": badFields } = errors;
    assert(badName && badFields, "errors for both commands");
    assert.equal(
      first(badName.name?._errors as { code: string }[], "a name error").code,
      "APPLICATION_COMMAND_INVALID_NAME",
    );
    assert.ok(badFields.description?._errors);
    assert.ok(badFields.name_localizations?.jp);

    const listed = await expectJson(await call(d, "GET", path), 200) as unknown as unknown[];
    assert.equal(listed.length, 1);
    assert.deepEqual(d.commands(GUILD).map((c) => c.name), ["subscribe"]);
    assert.deepEqual(d.commands(), []);
  });
});

Deno.test("injected faults: a 503 once, a slow answer the client gives up on, a dropped connection", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d, { roleId }) => {
    d.inject({ method: "PUT", path: /\/roles\//, status: 503, times: 1 });
    assert.deepEqual(await expectJson(await call(d, "PUT", rolePath(roleId)), 503), {
      message: "503: Service Unavailable",
      code: 0,
    });
    const retried = await call(d, "PUT", rolePath(roleId));
    assert.equal(retried.status, 204);
    await retried.body?.cancel();

    d.inject({ path: `/guilds/${GUILD}/roles`, delayMs: 5_000, times: 1 });
    await assert.rejects(
      call(d, "GET", `/guilds/${GUILD}/roles`, { signal: AbortSignal.timeout(100) }),
      (e: Error) => e.name === "TimeoutError",
    );

    d.inject({ method: "POST", path: "/users/@me/channels", drop: true, times: 1 });
    await assert.rejects(
      call(d, "POST", "/users/@me/channels", { body: { recipient_id: MEMBER } }),
      TypeError,
    );

    d.inject({ path: /./, status: 429, retryAfterSeconds: 2.5, scope: "shared", times: 1 });
    const forced = await call(d, "GET", "/users/@me");
    assert.deepEqual(await expectJson(forced, 429), {
      message: "You are being rate limited.",
      retry_after: 2.5,
      global: false,
    });
    assert.equal(forced.headers.get("X-RateLimit-Scope"), "shared");
    assert.equal(d.stats().invalid, 0, "shared-scope 429s do not count as invalid");

    d.clearFaults();
    await expectJson(await call(d, "GET", "/users/@me"), 200);
    assert.equal(d.stats().faultsInjected, 4);
  });
});

Deno.test("a fault after handling posts the message and loses the answer; the nonce then returns it", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d) => {
    const channel = await expectJson(
      await call(d, "POST", "/users/@me/channels", { body: { recipient_id: MEMBER } }),
      200,
    );
    const path = `/channels/${channel.id}/messages`;
    const body = { content: "ロールを付与しました", nonce: "notice-nonce-1", enforce_nonce: true };
    d.inject({ method: "POST", path, status: 502, afterHandling: true, times: 1 });
    await expectJson(await call(d, "POST", path, { body }), 502);
    assert.equal(d.messages({ userId: MEMBER }).length, 1, "posted before the answer was lost");
    const again = await expectJson(await call(d, "POST", path, { body }), 200);
    const [posted] = d.messages({ userId: MEMBER });
    assert.equal(again.id, posted?.id, "the nonce gives back the first message");
    assert.equal(d.messages({ userId: MEMBER }).length, 1);

    d.inject({ method: "POST", path, delayMs: 5_000, afterHandling: true, times: 1 });
    await assert.rejects(
      call(d, "POST", path, {
        body: { content: "another", nonce: "notice-nonce-2", enforce_nonce: true },
        signal: AbortSignal.timeout(100),
      }),
      (e: Error) => e.name === "TimeoutError",
    );
    assert.deepEqual(d.messages({ userId: MEMBER }).map((m) => m.content), [
      "ロールを付与しました",
      "another",
    ]);
    assert.deepEqual(
      d.requests().filter((r) => r.afterHandling).map((r) => r.fault),
      ["respond"],
      "the late answer is logged only once it is given",
    );
  });
});

Deno.test("seeded random faults repeat exactly", async () => {
  const run = async () => {
    const statuses: number[] = [];
    await withDouble({ rateLimits: { enabled: false } }, async (d) => {
      d.randomFaults({ rate: 0.5, kinds: ["5xx", "429"], seed: 42 });
      for (let i = 0; i < 20; i++) {
        const response = await call(d, "GET", "/users/@me");
        statuses.push(response.status);
        await response.body?.cancel();
      }
    });
    return statuses;
  };
  const first = await run();
  assert.deepEqual(await run(), first);
  assert.ok(first.some((s) => s !== 200) && first.some((s) => s === 200));
});

Deno.test("the HTTP control API shows a member's roles and messages to another process", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d, { roleId }) => {
    const created = await fetch(`${d.url}/__double/interactions`, {
      method: "POST",
      body: JSON.stringify({ token: "tok-http", userId: MEMBER, guildId: GUILD }),
      headers: { "Content-Type": "application/json" },
    });
    assert.equal(created.status, 201);
    await created.body?.cancel();
    await (await call(d, "PUT", rolePath(roleId))).body?.cancel();
    await expectJson(
      await call(d, "POST", `/webhooks/${d.applicationId}/tok-http`, {
        body: { content: "done", flags: 64 },
      }),
      200,
    );
    const view = await expectJson(
      await fetch(`${d.url}/__double/guilds/${GUILD}/members/${MEMBER}`),
      200,
    );
    assert.deepEqual(view.roles, [roleId]);
    assert.deepEqual((view.messages as { content: string }[]).map((m) => m.content), ["done"]);
    const stats = await expectJson(await fetch(`${d.url}/__double/stats`), 200);
    assert.equal(stats.total, 2);
    const refused = await fetch(`${d.url}/__double/guilds`, {
      method: "POST",
      body: JSON.stringify({ botPermissions: "lots" }),
      headers: { "Content-Type": "application/json" },
    });
    assert.equal(refused.status, 400);
    await refused.body?.cancel();
  });
});

Deno.test("without the OpenAPI check the implemented routes still answer", async () => {
  await withDouble(
    { rateLimits: { enabled: false }, checked: false },
    async (d, { roleId }) => {
      const response = await call(d, "PUT", rolePath(roleId));
      assert.equal(response.status, 204);
      await response.body?.cancel();
      assert.equal((await expectJson(await call(d, "GET", "/guilds/1/audit-logs"), 404)).code, 0);
      assert.deepEqual(d.memberRoles(GUILD, MEMBER), [roleId]);
    },
  );
});

Deno.test("an interaction answered through the callback endpoint can then have its original edited", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d) => {
    const { interactionId } = d.registerInteraction("tok-deferred", {
      userId: MEMBER,
      responded: false,
    });
    const early = `/webhooks/${d.applicationId}/tok-deferred/messages/@original`;
    assert.equal(
      (await expectJson(await call(d, "PATCH", early, { body: { content: "x" } }), 404)).code,
      10008,
    );

    const callback = `/interactions/${interactionId}/tok-deferred/callback`;
    const deferred = await call(d, "POST", callback, {
      body: { type: 5, data: { flags: 64 } },
      token: null,
    });
    assert.equal(deferred.status, 204);
    await deferred.body?.cancel();
    assert.equal(
      (await expectJson(
        await call(d, "POST", callback, { body: { type: 4, data: { content: "again" } } }),
        400,
      )).code,
      40060,
    );
    await expectJson(await call(d, "PATCH", early, { body: { content: "ready" } }), 200);
    assert.deepEqual(d.messages({ userId: MEMBER }).map((m) => [m.kind, m.content]), [[
      "original",
      "ready",
    ]]);
  });
});

Deno.test("list guild members pages by user id with limit and after, checked against Discord's description", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d) => {
    for (let i = 2; i <= 5; i++) d.addMember(GUILD, `20000000000000000${i}`);
    const first = await expectJson(await call(d, "GET", `/guilds/${GUILD}/members?limit=2`), 200);
    const ids = (page: unknown) => (page as { user: { id: string } }[]).map((m) => m.user.id);
    // The bot is a member too; its id is a snowflake made now, larger than these fixed ids.
    assert.deepEqual(ids(first), [MEMBER, "200000000000000002"]);
    const second = await expectJson(
      await call(d, "GET", `/guilds/${GUILD}/members?limit=1000&after=200000000000000002`),
      200,
    );
    assert.deepEqual(ids(second).slice(0, 3), [
      "200000000000000003",
      "200000000000000004",
      "200000000000000005",
    ]);
    assert.equal(ids(second).length, 4);
    const tooMany = await call(d, "GET", `/guilds/${GUILD}/members?limit=1001`);
    assert.equal(tooMany.status, 400);
    await tooMany.body?.cancel();
    assert.equal(d.specViolations().length, 1, "only the limit above 1000 breaks the description");
  });
});

Deno.test("without the Server Members intent, listing members answers 403 50001 while one member still reads", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d) => {
    d.setMembersIntent(false);
    assert.deepEqual(
      await expectJson(await call(d, "GET", `/guilds/${GUILD}/members?limit=10`), 403),
      { message: "Missing Access", code: 50001 },
    );
    await expectJson(await call(d, "GET", `/guilds/${GUILD}/members/${MEMBER}`), 200);
    d.setMembersIntent(true);
    await expectJson(await call(d, "GET", `/guilds/${GUILD}/members?limit=10`), 200);
  });
});

Deno.test("a member who leaves and rejoins comes back without roles; a moderator's hand edit shows in reads", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d, { roleId }) => {
    d.setMemberRoles(GUILD, MEMBER, [roleId]);
    const read = await expectJson(await call(d, "GET", `/guilds/${GUILD}/members/${MEMBER}`), 200);
    assert.deepEqual(read.roles, [roleId]);
    assert.deepEqual(d.auditLog(), [], "a hand edit is not rolepass's audit entry");
    d.rejoinMember(GUILD, MEMBER);
    assert.deepEqual(d.memberRoles(GUILD, MEMBER), []);

    const control = (method: string, path: string, body?: unknown) =>
      fetch(`${d.url}/__double${path}`, {
        method,
        headers: { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const set = await control("PUT", `/guilds/${GUILD}/members/${MEMBER}/roles`, {
      roles: [roleId],
    });
    assert.deepEqual(await set.json(), { roles: [roleId] });
    const rejoined = await control("POST", `/guilds/${GUILD}/members/${MEMBER}/rejoin`);
    assert.deepEqual(await rejoined.json(), { roles: [] });
    const intent = await control("PUT", "/members-intent", { enabled: false });
    assert.equal(intent.status, 204);
    const listed = await call(d, "GET", `/guilds/${GUILD}/members?limit=10`);
    assert.equal(listed.status, 403);
    await listed.body?.cancel();
  });
});

Deno.test("a fault can skip the first matching requests, as a failure in the middle of a paged read", async () => {
  await withDouble({ rateLimits: { enabled: false } }, async (d) => {
    d.inject({
      path: `/guilds/${GUILD}/members`,
      status: 403,
      body: { message: "Missing Permissions", code: 50013 },
      skip: 1,
      times: 1,
    });
    await expectJson(await call(d, "GET", `/guilds/${GUILD}/members?limit=1`), 200);
    await expectJson(await call(d, "GET", `/guilds/${GUILD}/members?limit=1&after=1`), 403);
    await expectJson(await call(d, "GET", `/guilds/${GUILD}/members?limit=1&after=1`), 200);
  });
});
