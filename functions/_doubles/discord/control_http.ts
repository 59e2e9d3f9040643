/**
 * The double's control API over HTTP, under `/__double`, for a separate process or the dev
 * runner's sandbox page: read state (a member's roles and messages, the audit log, stats) and
 * set it up (guilds, roles, members, interaction tokens, faults, clock).
 *
 * Bodies are JSON; permission bitfields travel as decimal strings.
 *
 * @module
 */

import { Hono } from "hono";
import { cors } from "hono/cors";
import { zValidator } from "@hono/zod-validator";
import { z } from "zod";
import type { DiscordDouble } from "./server.ts";

const snowflake = z.string().regex(/^(0|[1-9][0-9]*)$/);
const bitfield = z.union([z.string().regex(/^[0-9]+$/), z.number().int().nonnegative()]);

const guildBody = z.object({
  id: snowflake.optional(),
  name: z.string().optional(),
  botPermissions: bitfield.optional(),
  botRolePosition: z.number().int().optional(),
  everyonePermissions: bitfield.optional(),
}).strict();

const roleBody = z.object({
  id: snowflake.optional(),
  name: z.string().optional(),
  position: z.number().int(),
  permissions: bitfield.optional(),
  managed: z.boolean().optional(),
}).strict();

const memberBody = z.object({
  userId: snowflake,
  roles: z.array(snowflake).optional(),
  dmsClosed: z.boolean().optional(),
  username: z.string().optional(),
}).strict();

const interactionBody = z.object({
  token: z.string().min(1),
  applicationId: snowflake.optional(),
  interactionId: snowflake.optional(),
  guildId: snowflake.optional(),
  userId: snowflake.optional(),
  channelId: snowflake.optional(),
  responded: z.boolean().optional(),
}).strict();

const clockBody = z.union([
  z.object({ advanceMs: z.number() }).strict(),
  z.object({ epochMs: z.number() }).strict(),
]);

const faultBody = z.object({
  method: z.string().optional(),
  path: z.string().optional(),
  /** A RegExp source, for matching many paths. */
  pathPattern: z.string().optional(),
  status: z.number().int().min(100).max(599).optional(),
  body: z.unknown().optional(),
  delayMs: z.number().nonnegative().optional(),
  drop: z.boolean().optional(),
  retryAfterSeconds: z.number().nonnegative().optional(),
  scope: z.enum(["user", "global", "shared"]).optional(),
  times: z.number().int().positive().optional(),
  skip: z.number().int().nonnegative().optional(),
  probability: z.number().min(0).max(1).optional(),
  afterHandling: z.boolean().optional(),
}).strict().refine((f) => (f.path === undefined) !== (f.pathPattern === undefined), {
  message: "Give exactly one of path and pathPattern",
});

const randomFaultBody = z.object({
  rate: z.number().min(0).max(1),
  kinds: z.array(z.enum(["5xx", "timeout", "429", "drop", "lost_answer", "late_answer"]))
    .optional(),
  seed: z.number().int().optional(),
  timeoutMs: z.number().nonnegative().optional(),
  pathPattern: z.string().optional(),
}).strict();

const bucketLimit = z.object({
  limit: z.number().int().positive(),
  resetAfterSeconds: z.number().positive(),
});
const rateLimitBody = z.object({
  enabled: z.boolean().optional(),
  global: bucketLimit.optional(),
  buckets: z.record(
    z.enum([
      "roles",
      "messages",
      "dm_channels",
      "webhooks",
      "interaction_callbacks",
      "commands",
      "default",
    ]),
    bucketLimit,
  ).optional(),
}).strict();

/**
 * Builds the Hono app that serves `/__double/*` for a running double.
 *
 * @param double the double to read and change.
 */
export function controlApp(double: DiscordDouble): Hono {
  const app = new Hono().basePath("/__double");
  // The dev runner's sandbox page reads this API from the browser, from another origin.
  app.use("*", cors());

  app.onError((error, c) => c.json({ error: error.message }, 400));
  app.notFound((c) => c.json({ error: `No control route ${c.req.method} ${c.req.path}` }, 404));

  app.get("/", (c) =>
    c.json({
      apiBaseUrl: double.apiBaseUrl,
      applicationId: double.applicationId,
      now: double.now(),
    }));
  app.get("/state", (c) => c.json(double.snapshot()));
  app.get("/guilds/:guildId/members/:userId", (c) => {
    const { guildId, userId } = c.req.param();
    const roles = double.memberRoles(guildId, userId);
    return c.json({
      inGuild: roles !== undefined,
      roles: roles ?? [],
      messages: double.messages({ userId }),
      auditLog: double.auditLog().filter((e) => e.guildId === guildId && e.userId === userId),
    });
  });
  app.get("/messages", (c) => {
    const kind = c.req.query("kind");
    return c.json(double.messages({
      userId: c.req.query("userId"),
      channelId: c.req.query("channelId"),
      kind: kind === "dm" || kind === "channel" || kind === "followup" || kind === "original"
        ? kind
        : undefined,
    }));
  });
  app.get("/audit-log", (c) => c.json(double.auditLog()));
  app.get("/requests", (c) => c.json(double.requests()));
  app.get("/spec-violations", (c) => c.json(double.specViolations()));
  app.get("/stats", (c) => c.json(double.stats()));
  app.get("/commands", (c) => c.json(double.commands(c.req.query("guildId"))));

  app.post(
    "/guilds",
    zValidator("json", guildBody),
    (c) => c.json(double.addGuild(c.req.valid("json")), 201),
  );
  app.post(
    "/guilds/:guildId/roles",
    zValidator("json", roleBody),
    (c) => c.json(double.addRole(c.req.param("guildId"), c.req.valid("json")), 201),
  );
  app.post("/guilds/:guildId/members", zValidator("json", memberBody), (c) => {
    const { userId, ...setup } = c.req.valid("json");
    double.addMember(c.req.param("guildId"), userId, setup);
    return c.json({ roles: double.memberRoles(c.req.param("guildId"), userId) }, 201);
  });
  app.delete("/guilds/:guildId/members/:userId", (c) => {
    double.removeMember(c.req.param("guildId"), c.req.param("userId"));
    return c.body(null, 204);
  });
  app.post("/guilds/:guildId/members/:userId/rejoin", (c) => {
    double.rejoinMember(c.req.param("guildId"), c.req.param("userId"));
    return c.json({ roles: double.memberRoles(c.req.param("guildId"), c.req.param("userId")) });
  });
  app.put(
    "/guilds/:guildId/members/:userId/roles",
    zValidator("json", z.object({ roles: z.array(snowflake) }).strict()),
    (c) => {
      const { guildId, userId } = c.req.param();
      double.setMemberRoles(guildId, userId, c.req.valid("json").roles);
      return c.json({ roles: double.memberRoles(guildId, userId) });
    },
  );
  app.put(
    "/members-intent",
    zValidator("json", z.object({ enabled: z.boolean() }).strict()),
    (c) => {
      double.setMembersIntent(c.req.valid("json").enabled);
      return c.body(null, 204);
    },
  );
  app.post(
    "/guilds/:guildId/channels",
    zValidator(
      "json",
      z.object({ id: snowflake.optional(), name: z.string().optional() }).strict(),
    ),
    (c) => c.json(double.addChannel(c.req.param("guildId"), c.req.valid("json")), 201),
  );
  app.post(
    "/users/:userId/dms",
    zValidator("json", z.object({ closed: z.boolean() }).strict()),
    (c) => {
      double.setDmsClosed(c.req.param("userId"), c.req.valid("json").closed);
      return c.body(null, 204);
    },
  );
  app.post("/interactions", zValidator("json", interactionBody), (c) => {
    const { token, ...setup } = c.req.valid("json");
    const record = double.registerInteraction(token, setup);
    return c.json({ interactionId: record.interactionId, expiresAt: record.expiresAt }, 201);
  });
  app.post("/clock", zValidator("json", clockBody), (c) => {
    const body = c.req.valid("json");
    if ("advanceMs" in body) double.advanceClock(body.advanceMs);
    else double.setClock(body.epochMs);
    return c.json({ now: double.now() });
  });
  app.post("/faults", zValidator("json", faultBody), (c) => {
    const { path, pathPattern, ...rule } = c.req.valid("json");
    double.inject({
      ...rule,
      path: pathPattern !== undefined ? new RegExp(pathPattern) : path ?? "",
    });
    return c.body(null, 204);
  });
  app.post("/faults/random", zValidator("json", randomFaultBody), (c) => {
    const { pathPattern, ...options } = c.req.valid("json");
    double.randomFaults({
      ...options,
      path: pathPattern !== undefined ? new RegExp(pathPattern) : undefined,
    });
    return c.body(null, 204);
  });
  app.delete("/faults", (c) => {
    double.clearFaults();
    return c.body(null, 204);
  });
  app.put("/rate-limits", zValidator("json", rateLimitBody), (c) => {
    double.configureRateLimits(c.req.valid("json"));
    return c.body(null, 204);
  });
  app.delete("/rate-limits", (c) => {
    double.resetRateLimits();
    return c.body(null, 204);
  });
  app.delete("/log", (c) => {
    double.clearLog();
    return c.body(null, 204);
  });
  return app;
}
