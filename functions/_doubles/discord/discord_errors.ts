/**
 * Error bodies exactly as Discord sends them: `{ message, code }` for JSON errors, and the
 * nested `errors` tree of 50035 "Invalid Form Body".
 *
 * Wire wording differs from the docs' code table ("Unknown Member", not "Unknown member"):
 * see `tests/fixtures/discord/rest/observed-error-responses.json`.
 *
 * @module
 */

/** One leaf error inside a 50035 `errors` tree, e.g. `{ code: "BASE_TYPE_REQUIRED", ... }`. */
export interface FieldError {
  code: string;
  message: string;
}

/** A field error with the JSON path (object keys and array indexes) it belongs to. */
export interface FieldErrorAt extends FieldError {
  path: (string | number)[];
}

/** The nested `errors` object of a 50035 response. */
export type FormErrorTree = {
  _errors?: FieldError[];
  [key: string]: FormErrorTree | FieldError[] | undefined;
};

/** A Discord JSON error body. */
export interface DiscordErrorBody {
  message: string;
  code: number;
  errors?: FormErrorTree;
}

/** A status and body pair the server turns into a JSON response. */
export interface DiscordErrorReply {
  status: number;
  body: DiscordErrorBody;
}

/** Builds `{ status, body: { message, code } }`. */
export function discordError(status: number, code: number, message: string): DiscordErrorReply {
  return { status, body: { message, code } };
}

/** The errors the double answers with, named after what went wrong. */
export const DISCORD_ERRORS = {
  unauthorized: () => discordError(401, 0, "401: Unauthorized"),
  notFound: () => discordError(404, 0, "404: Not Found"),
  methodNotAllowed: () => discordError(405, 0, "405: Method Not Allowed"),
  unknownChannel: () => discordError(404, 10003, "Unknown Channel"),
  unknownGuild: () => discordError(404, 10004, "Unknown Guild"),
  unknownMember: () => discordError(404, 10007, "Unknown Member"),
  unknownMessage: () => discordError(404, 10008, "Unknown Message"),
  unknownRole: () => discordError(404, 10011, "Unknown Role"),
  unknownUser: () => discordError(404, 10013, "Unknown User"),
  unknownWebhook: () => discordError(404, 10015, "Unknown Webhook"),
  unknownApplication: () => discordError(404, 10002, "Unknown Application"),
  unknownInteraction: () => discordError(404, 10062, "Unknown interaction"),
  alreadyAcknowledged: () => discordError(400, 40060, "Interaction has already been acknowledged."),
  emptyMessage: () => discordError(400, 50006, "Cannot send an empty message"),
  cannotMessageUser: () => discordError(403, 50007, "Cannot send messages to this user"),
  missingAccess: () => discordError(403, 50001, "Missing Access"),
  missingPermissions: () => discordError(403, 50013, "Missing Permissions"),
  invalidWebhookToken: () => discordError(401, 50027, "Invalid Webhook Token"),
  invalidRecipients: () => discordError(400, 50033, "Invalid Recipient(s)"),
  invalidJson: () => discordError(400, 50109, "The request body contains invalid JSON."),
  noMutualGuilds: () =>
    discordError(403, 50278, "Cannot send messages to this user due to having no mutual guilds"),
  internal: (status: number) => discordError(status, 0, `${status}: ${statusText(status)}`),
} as const;

/** 400 50035 "Invalid Form Body" with the field errors folded into Discord's nested tree. */
export function invalidFormBody(errors: FieldErrorAt[]): DiscordErrorReply {
  return {
    status: 400,
    body: { code: 50035, errors: formErrorTree(errors), message: "Invalid Form Body" },
  };
}

/** Folds path-addressed errors into `{ a: { "0": { b: { _errors: [...] } } } }`. */
export function formErrorTree(errors: FieldErrorAt[]): FormErrorTree {
  const root: FormErrorTree = {};
  for (const { path, code, message } of errors) {
    let node = root;
    for (const key of path) {
      const k = String(key);
      const child = node[k];
      if (child === undefined || Array.isArray(child)) {
        const fresh: FormErrorTree = {};
        node[k] = fresh;
        node = fresh;
      } else {
        node = child;
      }
    }
    (node._errors ??= []).push({ code, message });
  }
  return root;
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
  };
  return texts[status] ?? "Error";
}
