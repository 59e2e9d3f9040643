/**
 * How the plan page reaches the `checkout` function: supabase-js `functions.invoke` with the
 * project URL and the publishable key, the only credentials the page holds. Answers are parsed
 * with the function's own schemas (../checkout/contract.ts).
 */
import { createClient, FunctionsHttpError } from "@supabase/supabase-js";
import type { z } from "zod";
import {
  CHECKOUT_PATHS,
  type CheckoutCompletion,
  checkoutCompletionSchema,
  type CheckoutProblem,
  errorBodySchema,
  type PlanView,
  planViewSchema,
  type SessionLink,
  sessionLinkSchema,
} from "../checkout/contract.ts";
import type { Locale } from "../_core/locale.ts";
import type { SellerStanding } from "../_core/connect.ts";
import { SELLER_STANDING_PATH, sellerStandingSchema } from "../checkout/connect_seller.ts";
import { REQUEST_ID_HEADER } from "../_shared/http/request_context.ts";
import type { Logger } from "../_shared/log.ts";

/** An answer of the checkout API: a value, or the problem to show the member. */
export type CheckoutAnswer<T> = { ok: true; value: T } | { ok: false; problem: CheckoutProblem };

/** The page request a call is made for: its id goes along as `x-request-id`, so the page's and
 * the function's log lines of one click share it. */
export interface CallContext {
  requestId: string;
  log: Logger;
}

/** The checkout API as the plan page uses it. */
export interface CheckoutClient {
  planView(token: string, context?: CallContext): Promise<CheckoutAnswer<PlanView>>;
  /** `locale`: the language the member chose on the page; Stripe and the pages after it speak it. */
  checkoutSession(
    token: string,
    planId: string,
    locale: Locale | null,
    context?: CallContext,
  ): Promise<CheckoutAnswer<SessionLink>>;
  portalSession(
    token: string,
    locale: Locale | null,
    context?: CallContext,
  ): Promise<CheckoutAnswer<SessionLink>>;
  /**
   * Platform mode: where a guild stands as a seller, for the onboarding return page; `token` is
   * the one in the return URL, without which checkout answers `not_found`.
   */
  sellerStanding?(
    guildId: string,
    token: string,
    context?: CallContext,
  ): Promise<CheckoutAnswer<{ standing: SellerStanding }>>;
  /** After Checkout: has the membership the session paid for been brought up to date? */
  completeCheckout(
    sessionId: string,
    context?: CallContext,
  ): Promise<CheckoutAnswer<CheckoutCompletion>>;
}

/** Where the checkout function lives and the key the gateway expects. */
export interface CheckoutClientOptions {
  /** The Supabase project URL (in dev, the dev runner; in tests, a server mounting the app). */
  supabaseUrl: string;
  publishableKey: string;
  /** Stripe calls take up to 10 s with one retry; the page waits a little longer. */
  timeoutMs?: number;
}

/** A checkout client over supabase-js. */
export function createCheckoutClient(options: CheckoutClientOptions): CheckoutClient {
  const supabase = createClient(options.supabaseUrl, options.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
  const timeout = options.timeoutMs ?? 25_000;

  async function call<S extends z.ZodType>(
    path: string,
    body: Record<string, string | undefined>,
    schema: S,
    context: CallContext | undefined,
  ): Promise<CheckoutAnswer<z.infer<S>>> {
    const { data, error } = await supabase.functions.invoke(`checkout/${path}`, {
      body,
      timeout,
      headers: context ? { [REQUEST_ID_HEADER]: context.requestId } : {},
    });
    if (error) {
      if (error instanceof FunctionsHttpError) {
        const response = error.context as Response;
        const parsed = errorBodySchema.safeParse(await response.json().catch(() => null));
        if (parsed.success) return { ok: false, problem: parsed.data.error.code };
        context?.log.error("checkout answered an unknown error", { status: response.status });
        return { ok: false, problem: "unavailable" };
      }
      context?.log.error("checkout unreachable", { error });
      return { ok: false, problem: "unavailable" };
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      context?.log.error("checkout answered an unexpected body", { path });
      return { ok: false, problem: "unavailable" };
    }
    return { ok: true, value: parsed.data };
  }

  return {
    planView: (token, context) => call(CHECKOUT_PATHS.planView, { token }, planViewSchema, context),
    checkoutSession: (token, planId, locale, context) =>
      call(
        CHECKOUT_PATHS.checkoutSession,
        { token, planId, locale: locale ?? undefined },
        sessionLinkSchema,
        context,
      ),
    portalSession: (token, locale, context) =>
      call(
        CHECKOUT_PATHS.portalSession,
        { token, locale: locale ?? undefined },
        sessionLinkSchema,
        context,
      ),
    sellerStanding: (guildId, token, context) =>
      call(SELLER_STANDING_PATH, { guildId, token }, sellerStandingSchema, context),
    completeCheckout: (sessionId, context) =>
      call(CHECKOUT_PATHS.checkoutComplete, { sessionId }, checkoutCompletionSchema, context),
  };
}
