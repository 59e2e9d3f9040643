/**
 * The plan page (a Deno Deploy app, not a Supabase function: *.supabase.co rewrites `text/html`
 * answers to `text/plain`). It holds no Stripe key and no database credential: every decision is
 * the `checkout` function's, reached through {@link CheckoutClient}.
 *
 * | path                       | does                                                     |
 * |----------------------------|----------------------------------------------------------|
 * | GET  /join/<token>         | the plans, the seller notice, a subscribe form per plan  |
 * | POST /join/<token>         | 303 to Stripe Checkout (or the portal for a subscriber)  |
 * | GET  /manage/<token>       | 303 to the Stripe Customer Portal                        |
 * | GET  /join/thanks          | after Checkout succeeded: syncs the membership at once   |
 * | GET  /join/cancelled       | after the member left Checkout                           |
 * | GET  /manage/done          | back from the portal                                     |
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { isWellFormedLinkToken } from "../_core/link_token.ts";
import { type Locale, parseLocale } from "../_core/locale.ts";
import {
  type PlanPageMessages,
  planPageMessages,
  type PlanPageProblem,
} from "../_core/messages/plan_page.ts";
import { type CheckoutCompletion, PROBLEM_STATUS } from "../checkout/contract.ts";
import type { SellerStanding } from "../_core/connect.ts";
import { discordIdSchema } from "../_core/discord_id.ts";
import { connectPageText } from "../_core/messages/connect.ts";
import { errorHandler } from "../_shared/http/error_handler.ts";
import { requestContext, type RequestContextEnv } from "../_shared/http/request_context.ts";
import { createLogger, type Logger } from "../_shared/log.ts";
import type { CallContext, CheckoutClient } from "./checkout_client.ts";
import { ErrorPage, MessagePage, PlanPage } from "./views.tsx";

/** What the plan page is built from. */
export interface PlanPageDeps {
  checkoutClient: CheckoutClient;
  /** Where this page is served (PUBLIC_SITE_URL); forms posted from other sites are refused. */
  publicSiteUrl: string;
  logger?: Logger;
}

type Env = { Variables: RequestContextEnv["Variables"] & { call: CallContext } };

/** The plain-text messages (not the functions or groups). */
type TextKey = {
  [K in keyof PlanPageMessages]: PlanPageMessages[K] extends string ? K : never;
}[keyof PlanPageMessages];

/** The thank-you page's body for each answer of checkout-complete. */
const THANKS_BODY: Record<CheckoutCompletion["status"], TextKey> = {
  granting: "thanksGrantingBody",
  trial_granting: "thanksTrialGrantingBody",
  trial_started: "thanksTrialStartedBody",
  processing: "thanksProcessingBody",
};

const subscribeFormSchema = z.object({
  plan_id: z.string().uuid(),
});

/** The language asked for: `?lang=`, else the browser's, else Japanese (the seller's market). */
function requestedLocale(c: Context): Locale | null {
  return parseLocale(c.req.query("lang"));
}

function browserLocale(c: Context): Locale {
  const accept = c.req.header("accept-language") ?? "";
  if (/^\s*ja\b/i.test(accept)) return "ja";
  return accept.trim() ? "en" : "ja";
}

function html(c: Context, status: ContentfulStatusCode, node: unknown): Response {
  return c.html(`<!doctype html>${node}`, status);
}

function errorPage(
  c: Context,
  locale: Locale,
  problem: PlanPageProblem,
  retryHref?: string,
): Response {
  const path = new URL(c.req.url).pathname;
  return html(
    c,
    PROBLEM_STATUS[problem],
    <ErrorPage locale={locale} problem={problem} path={path} retryHref={retryHref} />,
  );
}

/** Builds the plan page app. */
export function createApp(deps: PlanPageDeps): Hono<Env> {
  const siteOrigin = new URL(deps.publicSiteUrl).origin;
  const app = new Hono<Env>();

  app.use(requestContext(deps.logger ?? createLogger("plan-page")));
  app.onError(errorHandler({
    replyTo: () => ({ status: PROBLEM_STATUS.unavailable, body: null }),
    respond: (c) => errorPage(c, requestedLocale(c) ?? browserLocale(c), "unavailable"),
  }));
  app.use(async (c, next) => {
    // Checkout logs under the page's request id, so one click reads as one story.
    c.set("call", { requestId: c.var.requestId, log: c.var.log });
    await next();
    // The token is in the path: no referrer may carry it to Stripe or anywhere else.
    c.header("referrer-policy", "no-referrer");
    c.header("cache-control", "no-store");
    c.header("x-robots-tag", "noindex");
    c.header("x-content-type-options", "nosniff");
    c.header(
      "content-security-policy",
      "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
    );
  });

  const message = (title: TextKey, body: TextKey) => (c: Context) => {
    const locale = requestedLocale(c) ?? browserLocale(c);
    const text = planPageMessages(locale);
    return html(
      c,
      200,
      <MessagePage
        locale={locale}
        title={text[title]}
        body={text[body]}
        path={new URL(c.req.url).pathname}
      />,
    );
  };

  app.use(
    bodyLimit({
      maxSize: 4096,
      onError: (c) => errorPage(c, requestedLocale(c) ?? browserLocale(c), "invalid_request"),
    }),
  );

  app.get("/", message("homeTitle", "homeBody"));
  // Stripe's webhooks can come late: the thank-you page asks checkout to sync the membership from
  // Stripe now. Whatever fails, the member still gets the thank-you page; the webhook finishes.
  app.get("/join/thanks", async (c) => {
    const sessionId = c.req.query("session_id");
    let body: TextKey = "thanksBody";
    if (sessionId) {
      const answer = await deps.checkoutClient.completeCheckout(sessionId, c.var.call);
      if (answer.ok) {
        body = THANKS_BODY[answer.value.status];
      } else {
        c.var.log.warn("thank-you page could not sync the checkout; the webhook will", {
          problem: answer.problem,
        });
      }
    }
    return message("thanksTitle", body)(c);
  });
  app.get("/join/cancelled", message("cancelledTitle", "cancelledBody"));
  app.get("/manage/done", message("portalReturnTitle", "portalReturnBody"));
  // Platform mode: Stripe's onboarding sends the community's owner back here (Account Link
  // return_url, with the token that alone may read the guild's standing), or to /connect/refresh
  // when the link was used or expired. A return URL whose token does not hold says the same.
  app.get("/connect/:page{return|refresh}/:guild/:token?", async (c) => {
    const locale = requestedLocale(c) ?? browserLocale(c);
    let page: SellerStanding | "refresh" | "unknown" = "refresh";
    const token = c.req.param("token");
    if (c.req.param("page") === "return" && token) {
      const guild = discordIdSchema.safeParse(c.req.param("guild"));
      const answer = guild.success && deps.checkoutClient.sellerStanding
        ? await deps.checkoutClient.sellerStanding(guild.data, token, c.var.call)
        : null;
      page = answer?.ok
        ? answer.value.standing
        : answer?.problem === "not_found"
        ? "refresh"
        : "unknown";
    }
    const text = connectPageText(locale, page);
    return html(
      c,
      200,
      <MessagePage
        locale={locale}
        title={text.title}
        body={text.body}
        path={new URL(c.req.url).pathname}
      />,
    );
  });

  app.get("/join/:token", async (c) => {
    const token = c.req.param("token");
    if (!isWellFormedLinkToken(token)) {
      return errorPage(c, requestedLocale(c) ?? browserLocale(c), "malformed_token");
    }
    const answer = await deps.checkoutClient.planView(token, c.var.call);
    if (!answer.ok) return errorPage(c, requestedLocale(c) ?? browserLocale(c), answer.problem);
    const locale = requestedLocale(c) ?? answer.value.locale;
    return html(
      c,
      200,
      <PlanPage
        view={answer.value}
        locale={locale}
        token={token}
        path={new URL(c.req.url).pathname}
      />,
    );
  });

  app.post("/join/:token", async (c) => {
    const token = c.req.param("token");
    const origin = c.req.header("origin");
    const body: Record<string, unknown> = await c.req.parseBody().catch(() => ({}));
    const form = subscribeFormSchema.safeParse(body);
    const chosenLocale = parseLocale(String(body.lang ?? ""));
    const locale = chosenLocale ?? browserLocale(c);
    const ownOrigin = new URL(c.req.url).origin;
    // The page sends no referrer, so browsers post its form with `Origin: null`; a page in a
    // sandboxed frame elsewhere does too, and Sec-Fetch-Site is what tells the two apart.
    const fetchSite = c.req.header("sec-fetch-site");
    const crossSite = fetchSite !== undefined && fetchSite !== "same-origin" &&
      fetchSite !== "none";
    if (
      crossSite || (origin && origin !== "null" && origin !== siteOrigin && origin !== ownOrigin)
    ) {
      c.var.log.warn("subscribe refused: form posted from another origin", { origin, fetchSite });
      return errorPage(c, locale, "invalid_request");
    }
    if (!isWellFormedLinkToken(token)) return errorPage(c, locale, "malformed_token");
    if (!form.success) return errorPage(c, locale, "invalid_request");
    const answer = await deps.checkoutClient.checkoutSession(
      token,
      form.data.plan_id,
      chosenLocale,
      c.var.call,
    );
    if (!answer.ok) {
      const retryable = answer.problem === "stripe_unavailable" || answer.problem === "unavailable";
      return errorPage(
        c,
        locale,
        answer.problem,
        retryable ? `/join/${encodeURIComponent(token)}?lang=${locale}` : undefined,
      );
    }
    return c.redirect(answer.value.url, 303);
  });

  app.get("/manage/:token", async (c) => {
    const token = c.req.param("token");
    const locale = requestedLocale(c);
    if (!isWellFormedLinkToken(token)) {
      return errorPage(c, locale ?? browserLocale(c), "malformed_token");
    }
    const answer = await deps.checkoutClient.portalSession(token, locale, c.var.call);
    if (!answer.ok) return errorPage(c, locale ?? browserLocale(c), answer.problem);
    return c.redirect(answer.value.url, 303);
  });

  app.notFound((c) => errorPage(c, requestedLocale(c) ?? browserLocale(c), "not_found"));

  return app;
}
