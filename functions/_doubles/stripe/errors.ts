/**
 * Stripe's error bodies. Every API error is `{"error": {...}}` with a `type`, a `message`, and for
 * most invalid-request errors a `code`, `param` and `doc_url`
 * (https://docs.stripe.com/error-codes). The SDK picks its error class from the HTTP status and
 * `type` (400 → StripeInvalidRequestError, 401 → StripeAuthenticationError, 404 → also
 * StripeInvalidRequestError, idempotency_error → StripeIdempotencyError).
 */

/** The `error` object of a Stripe error response. */
export interface StripeErrorBody {
  type: string;
  message: string;
  code?: string;
  param?: string;
  doc_url?: string;
  request_log_url?: string;
  [extra: string]: unknown;
}

/** An error the double answers with, as Stripe would. */
export class StripeApiError extends Error {
  /**
   * @param status HTTP status.
   * @param body the `error` object.
   * @param storedForIdempotency false for errors raised before the endpoint starts executing
   *   (parameter validation): Stripe does not save those results under the idempotency key.
   */
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    readonly storedForIdempotency = true,
  ) {
    super(body.message);
    this.name = "StripeApiError";
  }
}

function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, "-")}`;
}

/** 400 `parameter_unknown`: "Received unknown parameter: foo". */
export function unknownParameter(param: string): StripeApiError {
  return new StripeApiError(400, {
    type: "invalid_request_error",
    code: "parameter_unknown",
    param,
    message: `Received unknown parameter: ${param}`,
    doc_url: docUrl("parameter_unknown"),
  }, false);
}

/** 400 `parameter_missing`: "Missing required param: line_items[0][price]." */
export function missingParameter(param: string): StripeApiError {
  return new StripeApiError(400, {
    type: "invalid_request_error",
    code: "parameter_missing",
    param,
    message: `Missing required param: ${param}.`,
    doc_url: docUrl("parameter_missing"),
  }, false);
}

/** 400 for a value of the wrong kind or outside the allowed set. */
export function invalidParameter(
  param: string,
  message: string,
  code = "parameter_invalid_string",
): StripeApiError {
  return new StripeApiError(400, {
    type: "invalid_request_error",
    code,
    param,
    message,
    doc_url: docUrl(code),
  }, false);
}

/** 400 without a specific code, for business-rule refusals ("This subscription is canceled"). */
export function invalidRequest(message: string, param?: string): StripeApiError {
  return new StripeApiError(400, {
    type: "invalid_request_error",
    message,
    ...(param ? { param } : {}),
  });
}

/** 404 `resource_missing`: "No such customer: 'cus_x'". */
export function resourceMissing(
  noun: string,
  id: string,
  param = "id",
): StripeApiError {
  return new StripeApiError(404, {
    type: "invalid_request_error",
    code: "resource_missing",
    param,
    message: `No such ${noun}: '${id}'`,
    doc_url: docUrl("resource_missing"),
  });
}

/** 404 for a path Stripe does not serve. */
export function unrecognizedUrl(method: string, path: string): StripeApiError {
  return new StripeApiError(404, {
    type: "invalid_request_error",
    message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs ` +
      "or we can help at https://support.stripe.com/.",
  }, false);
}

/**
 * 401 for a missing or wrong API key. Real Stripe labels these `invalid_request_error`; the SDK
 * turns any 401 into StripeAuthenticationError.
 */
export function authenticationFailed(providedKey: string | null): StripeApiError {
  const message = providedKey === null
    ? "You did not provide an API key. You need to provide your API key in the Authorization " +
      "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See " +
      "https://stripe.com/docs/api#authentication for details, or we can help at " +
      "https://support.stripe.com/."
    : `Invalid API Key provided: ${maskKey(providedKey)}`;
  return new StripeApiError(401, { type: "invalid_request_error", message }, false);
}

function maskKey(key: string): string {
  const underscore = key.lastIndexOf("_");
  const prefix = underscore >= 0 ? key.slice(0, underscore + 1) : "";
  const tail = key.slice(-4);
  return `${prefix}${"*".repeat(Math.max(0, key.length - prefix.length - 4))}${tail}`;
}

/** 400 `idempotency_error` when a key is reused with other parameters or on another endpoint. */
export function idempotencyMismatch(
  key: string,
  firstEndpoint: string,
  endpoint: string,
): StripeApiError {
  const message = firstEndpoint === endpoint
    ? "Keys for idempotent requests can only be used with the same parameters they were first " +
      `used with. Try using a key other than '${key}' if you meant to execute a different request.`
    : "Keys for idempotent requests can only be used for the same endpoint they were first used " +
      `for ('${firstEndpoint}' vs '${endpoint}'). Try using a key other than '${key}' if you ` +
      "meant to execute a different request.";
  return new StripeApiError(400, { type: "idempotency_error", message }, false);
}

/** 409 while another request with the same idempotency key is still running. */
export function idempotencyInFlight(key: string): StripeApiError {
  return new StripeApiError(409, {
    type: "idempotency_error",
    message: "There is currently another in-progress request using this Idempotent Key (that " +
      `probably means you submitted twice, and the other request is still going through): ${key}. ` +
      "Please try again later.",
  }, false);
}

/** A default body for an injected fault status, shaped like Stripe's answer for that status. */
export function faultBody(status: number): { error: StripeErrorBody } {
  if (status === 429) {
    return {
      error: {
        type: "invalid_request_error",
        code: "rate_limit",
        message: "Request rate limit exceeded. Learn more about rate limits here " +
          "https://stripe.com/docs/rate-limits.",
        doc_url: docUrl("rate_limit"),
      },
    };
  }
  if (status === 402) {
    return {
      error: {
        type: "card_error",
        code: "card_declined",
        decline_code: "generic_decline",
        message: "Your card was declined.",
        doc_url: docUrl("card_declined"),
      },
    };
  }
  if (status >= 500) {
    return { error: { type: "api_error", message: "An unknown error occurred" } };
  }
  return { error: { type: "invalid_request_error", message: `Injected fault (${status})` } };
}
