/**
 * The plan page's HTML, server-rendered with Hono JSX: no client script at all, forms that POST,
 * inline CSS that reads on a phone, visible keyboard focus and text contrast above WCAG AA.
 */
import type { Child } from "hono/jsx";
import { type Locale, LOCALES } from "../_core/locale.ts";
import {
  formatPassEnd,
  type PlanPageMessages,
  planPageMessages,
  type PlanPageProblem,
} from "../_core/messages/plan_page.ts";
import { pickText, type SellerNotice } from "../_core/operator_text.ts";
import { formatPlanTerms } from "../_core/price.ts";
import type { PlanView } from "../checkout/contract.ts";
import { onSitePath } from "./site_path.ts";

const CSS = `
:root { color-scheme: light; --ink: #1b1b1f; --muted: #44474f; --line: #c4c6d0; --accent: #3730a3;
  --accent-ink: #ffffff; --focus: #b45309; --paper: #ffffff; --panel: #f4f4f8; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--paper); color: var(--ink); line-height: 1.6;
  font: 16px/1.6 system-ui, -apple-system, "Segoe UI", "Hiragino Sans", "Noto Sans JP", sans-serif; }
.wrap { max-width: 42rem; margin: 0 auto; padding: 1rem 1rem 3rem; }
header.top { display: flex; justify-content: flex-end; }
nav.lang ul { list-style: none; display: flex; gap: .5rem; margin: 0; padding: 0; }
nav.lang a { display: inline-block; padding: .5rem .75rem; min-height: 44px; color: var(--accent);
  border: 1px solid var(--line); border-radius: .5rem; text-decoration: none; }
nav.lang a[aria-current="true"] { background: var(--accent); color: var(--accent-ink);
  border-color: var(--accent); }
h1 { font-size: 1.6rem; line-height: 1.3; margin: 1rem 0 .5rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .75rem; }
h3 { font-size: 1.15rem; margin: 0 0 .25rem; }
h1, h2, h3, button { word-break: keep-all; overflow-wrap: anywhere; line-break: strict; }
@supports (word-break: auto-phrase) { :lang(ja) :is(h1, h2, h3, button) { word-break: auto-phrase; } }
p { margin: .5rem 0; }
.muted { color: var(--muted); }
ul.plans { list-style: none; margin: 0; padding: 0; display: grid; gap: 1rem; }
.plan { border: 1px solid var(--line); border-radius: .75rem; padding: 1rem; background: var(--panel); }
.plan .price { font-size: 1.3rem; font-weight: 700; margin: .25rem 0; }
dl { margin: .5rem 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem .75rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
dl.notice { border-top: 1px solid var(--line); }
dl.notice div { border-bottom: 1px solid var(--line); padding: .6rem 0; }
dl.notice dt { font-weight: 700; }
dl.notice dd { margin: .15rem 0 0; white-space: pre-line; overflow-wrap: anywhere; }
button, .button { display: inline-block; width: 100%; min-height: 48px; margin-top: .75rem;
  padding: .75rem 1rem; border: 0; border-radius: .5rem; background: var(--accent);
  color: var(--accent-ink); font: inherit; font-weight: 700; text-align: center;
  text-decoration: none; cursor: pointer; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible { outline: 3px solid var(--focus); outline-offset: 3px; }
.callout { border-left: 4px solid var(--accent); background: var(--panel); padding: .75rem 1rem;
  margin: 1rem 0; }
@media (min-width: 40rem) { button, .button { width: auto; } h1 { font-size: 2rem; } }
`;

/**
 * Links to the same page in each language; the current one is marked for assistive tech. The path
 * is the request's, so it goes through {@link onSitePath}: `//elsewhere/x` must not lead elsewhere.
 */
function LanguageSwitch(props: { locale: Locale; path: string }) {
  const current = planPageMessages(props.locale);
  const path = onSitePath(props.path);
  return (
    <nav class="lang" aria-label={current.languageSwitchLabel}>
      <ul>
        {LOCALES.map((locale) => (
          <li>
            <a
              href={`${path}?lang=${locale}`}
              lang={locale}
              hreflang={locale}
              aria-current={locale === props.locale ? "true" : undefined}
            >
              {planPageMessages(locale).languageName}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** The document around every page. */
export function Layout(
  props: { locale: Locale; title: string; path: string; children?: Child },
) {
  return (
    <html lang={props.locale}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <meta name="robots" content="noindex" />
        <title>{props.title}</title>
        <style dangerouslySetInnerHTML={{ __html: CSS }} />
      </head>
      <body>
        <div class="wrap">
          <header class="top">
            <LanguageSwitch locale={props.locale} path={props.path} />
          </header>
          <main id="main">{props.children}</main>
        </div>
      </body>
    </html>
  );
}

/** The seller notice's timings built from each plan's terms, in place of the operator's texts. */
interface TimingsFromTerms {
  /** When each plan charges, which a free trial on offer moves from sign-up to the trial's end. */
  payment: string;
  /** When each plan's role is granted, which a free trial on offer moves to sign-up or its end. */
  delivery: string;
}

/** The seller notice. `timings`, when given, replace the operator's payment and delivery texts. */
function SellerNoticeSection(
  props: {
    notice: SellerNotice | null;
    locale: Locale;
    text: PlanPageMessages;
    prices: string;
    timings: TimingsFromTerms | null;
  },
) {
  const labels = props.text.sellerNotice;
  const notice = props.notice;
  const rows: [string, string][] = notice
    ? [
      [labels.seller, pickText(notice.seller, props.locale)],
      [labels.representative, pickText(notice.representative, props.locale)],
      [labels.address, pickText(notice.address, props.locale)],
      [labels.phone, pickText(notice.phone, props.locale)],
      [labels.email, notice.email],
      [labels.price, props.prices],
      [labels.additionalFees, pickText(notice.additionalFees, props.locale)],
      [labels.paymentMethods, pickText(notice.paymentMethods, props.locale)],
      [
        labels.paymentTiming,
        props.timings?.payment ?? pickText(notice.paymentTiming, props.locale),
      ],
      [
        labels.deliveryTiming,
        props.timings?.delivery ?? pickText(notice.deliveryTiming, props.locale),
      ],
      [labels.cancellationPolicy, pickText(notice.cancellationPolicy, props.locale)],
    ]
    : [];
  return (
    <section aria-labelledby="seller-notice">
      <h2 id="seller-notice">{labels.heading}</h2>
      {notice
        ? (
          <dl class="notice">
            {rows.map(([label, value]) => (
              <div>
                <dt>{label}</dt>
                <dd>{value}</dd>
              </div>
            ))}
          </dl>
        )
        : <p>{props.text.sellerNoticeMissing}</p>}
    </section>
  );
}

/** `/join/<token>`: the guild's plans, a subscribe form per plan, and the seller notice. */
export function PlanPage(
  props: { view: PlanView; locale: Locale; token: string; path: string },
) {
  const { view, locale } = props;
  const text = planPageMessages(locale);
  const nameOf = (plan: PlanView["plans"][number]) =>
    (locale === "ja" && plan.display.ja ? plan.display.ja : plan.display.en).name;
  // Discord role names are not localized: a Japanese block without one shows the English one.
  const roleNameOf = (plan: PlanView["plans"][number]) =>
    (locale === "ja" ? plan.display.ja?.role_name : undefined) ?? plan.display.en.role_name;
  const trialRoleNameOf = (plan: PlanView["plans"][number]) =>
    (locale === "ja" ? plan.display.ja?.trial_role_name : undefined) ??
      plan.display.en.trial_role_name;
  // A subscriber's button opens the portal: no trial is on offer there.
  const trialOf = (plan: PlanView["plans"][number]) => view.entitled ? undefined : plan.trial;
  const grantsOf = (plan: PlanView["plans"][number]) => {
    const trialRoles = trialOf(plan)?.roles;
    if (plan.sale.kind === "pass") return text.grantsForPass(view.guild.name, roleNameOf(plan));
    if (trialRoles === "own") return text.grantsTrialRole(trialRoleNameOf(plan), roleNameOf(plan));
    if (trialRoles === "none") return text.grantsFromFirstPayment(roleNameOf(plan));
    return text.grants(view.guild.name, roleNameOf(plan));
  };
  const chargeTimingOf = (plan: PlanView["plans"][number]) =>
    plan.sale.kind === "pass"
      ? text.passChargeTiming
      : text.subscriptionChargeTiming(plan.sale, trialOf(plan)?.days);
  const deliveryTimingOf = (plan: PlanView["plans"][number]) =>
    plan.sale.kind === "pass"
      ? text.passDeliveryTiming(plan.sale.accessSeconds)
      : text.subscriptionDeliveryTiming(
        trialOf(plan)?.roles,
        trialRoleNameOf(plan),
        roleNameOf(plan),
      );
  const priceOf = (plan: PlanView["plans"][number]) =>
    formatPlanTerms(
      plan.sale.kind === "subscription"
        ? {
          kind: "subscription",
          unitAmount: plan.unitAmount,
          currency: plan.currency,
          interval: plan.sale.interval,
          intervalCount: plan.sale.intervalCount,
        }
        : {
          kind: "pass",
          unitAmount: plan.unitAmount,
          currency: plan.currency,
          accessSeconds: plan.sale.accessSeconds,
        },
      locale,
      plan.tax,
    );
  const perPlan = (line: (plan: PlanView["plans"][number]) => string) =>
    view.plans.map((plan) => `${nameOf(plan)}: ${line(plan)}`).join("\n");
  const prices = perPlan(priceOf);
  // The operator's timings are kept unless a trial on offer makes "charged at sign-up" and
  // "granted on payment" untrue.
  const timings = view.plans.some(trialOf)
    ? { payment: perPlan(chargeTimingOf), delivery: perPlan(deliveryTimingOf) }
    : null;
  const heldPass = view.pass && view.plans.find((plan) => plan.id === view.pass?.planId);
  // A pass holder may renew the pass or buy another plan; only a subscriber goes to the portal.
  const buttonOf = (plan: PlanView["plans"][number], name: string) =>
    view.entitled
      ? text.manageButton
      : plan.trial
      ? text.trialButton(name, plan.trial.days)
      : plan.sale.kind === "subscription"
      ? text.subscribeButton(name)
      : plan.id === view.pass?.planId
      ? text.renewButton(name)
      : text.buyButton(name);
  return (
    <Layout locale={locale} title={text.joinTitle(view.guild.name)} path={props.path}>
      <h1>{text.joinTitle(view.guild.name)}</h1>
      <p>{text.joinIntro(view.guild.name)}</p>
      {view.entitled && <p class="callout" role="note">{text.alreadySubscribed}</p>}
      {view.pass && heldPass && (
        <p class="callout" role="note">
          {text.passHeld(
            nameOf(heldPass),
            view.pass.accessUntil ? formatPassEnd(new Date(view.pass.accessUntil), locale) : null,
          )}
        </p>
      )}
      <section aria-labelledby="plans">
        <h2 id="plans">{text.plansHeading}</h2>
        <ul class="plans">
          {view.plans.map((plan) => {
            const display = locale === "ja" && plan.display.ja ? plan.display.ja : plan.display.en;
            const headingId = `plan-${plan.id}`;
            const trial = trialOf(plan);
            return (
              <li class="plan">
                <article aria-labelledby={headingId}>
                  <h3 id={headingId}>{display.name}</h3>
                  {display.description && <p>{display.description}</p>}
                  <dl class="facts">
                    <dt>{text.priceLabel}</dt>
                    <dd class="price">{priceOf(plan)}</dd>
                    <dt>{text.grantsLabel}</dt>
                    <dd>{grantsOf(plan)}</dd>
                    {trial && <dt>{text.trialLabel}</dt>}
                    {trial && (
                      <dd class="trial">
                        {text.trialTerms(trial.days, priceOf(plan), trial.cardUpFront)}
                      </dd>
                    )}
                  </dl>
                  <form method="post" action={`/join/${encodeURIComponent(props.token)}`}>
                    <input type="hidden" name="plan_id" value={plan.id} />
                    <input type="hidden" name="lang" value={locale} />
                    <button type="submit">{buttonOf(plan, display.name)}</button>
                  </form>
                </article>
              </li>
            );
          })}
        </ul>
        <p class="muted">{text.stripeNote}</p>
      </section>
      <SellerNoticeSection
        notice={view.guild.sellerNotice}
        locale={locale}
        text={text}
        prices={prices}
        timings={timings}
      />
    </Layout>
  );
}

/** A page that only says something: thanks, cancelled, back from the portal, the home page. */
export function MessagePage(
  props: { locale: Locale; title: string; body: string; path: string },
) {
  return (
    <Layout locale={props.locale} title={props.title} path={props.path}>
      <h1>{props.title}</h1>
      <p>{props.body}</p>
    </Layout>
  );
}

const LINK_PROBLEMS = new Set<PlanPageProblem>([
  "malformed_token",
  "unknown_token",
  "expired_token",
  "used_token",
  "wrong_purpose",
]);

/** Why the member cannot go on, and what to do: run /subscribe again (or retry, when it helps). */
export function ErrorPage(
  props: { locale: Locale; problem: PlanPageProblem; path: string; retryHref?: string },
) {
  const text = planPageMessages(props.locale);
  const title = LINK_PROBLEMS.has(props.problem) ? text.errorTitle : text.tryAgainTitle;
  return (
    <Layout locale={props.locale} title={title} path={props.path}>
      <h1>{title}</h1>
      <p role="alert">{text.problems[props.problem]}</p>
      <p>{text.runSubscribeAgain}</p>
      {props.retryHref && (
        <p>
          <a href={props.retryHref}>{text.tryAgainLink}</a>
        </p>
      )}
    </Layout>
  );
}
