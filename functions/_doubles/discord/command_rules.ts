/**
 * Discord's rules for application commands that the OpenAPI schema does not carry: the
 * CHAT_INPUT name pattern and lower case, required 1-100 character descriptions, valid locale
 * keys, unique names.
 *
 * @see https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-naming
 * @module
 */

import { ApplicationCommandOptionType, ApplicationCommandType } from "discord-api-types/v10";
import type { FieldErrorAt } from "./discord_errors.ts";
import { DISCORD_LOCALES } from "./state.ts";

/** The docs' CHAT_INPUT name pattern, with Unicode property escapes. */
export const COMMAND_NAME_PATTERN = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

type Json = Record<string, unknown>;

/**
 * Checks a bulk-overwrite body (already valid against the OpenAPI schema).
 *
 * @returns path-addressed errors, `[index, field, ...]`; empty when Discord would accept it.
 */
export function checkCommands(commands: Json[]): FieldErrorAt[] {
  const errors: FieldErrorAt[] = [];
  const seen = new Set<string>();
  commands.forEach((command, index) => {
    const type = (command.type ?? ApplicationCommandType.ChatInput) as number;
    const chatInput = type === ApplicationCommandType.ChatInput;
    errors.push(...checkNamed(command, [index], chatInput, chatInput));
    if (!chatInput && typeof command.description === "string" && command.description !== "") {
      errors.push({
        path: [index, "description"],
        code: "APPLICATION_COMMAND_DESCRIPTION_NOT_ALLOWED",
        message: "Description is only allowed for CHAT_INPUT commands.",
      });
    }
    if (Array.isArray(command.options)) {
      errors.push(...checkOptions(command.options as Json[], [index, "options"]));
    }
    const key = `${type}:${String(command.name)}`;
    if (seen.has(key)) {
      errors.push({
        path: [],
        code: "APPLICATION_COMMANDS_DUPLICATE_NAME",
        message: `Application command names must be unique (${String(command.name)}).`,
      });
    }
    seen.add(key);
  });
  return errors;
}

function checkOptions(options: Json[], path: (string | number)[]): FieldErrorAt[] {
  return options.flatMap((option, i) => {
    const errors = checkNamed(option, [...path, i], true, true);
    const nested = option.type === ApplicationCommandOptionType.Subcommand ||
      option.type === ApplicationCommandOptionType.SubcommandGroup;
    if (nested && Array.isArray(option.options)) {
      errors.push(...checkOptions(option.options as Json[], [...path, i, "options"]));
    }
    return errors;
  });
}

/** Name, description and localizations of a command or an option. */
function checkNamed(
  item: Json,
  path: (string | number)[],
  strictName: boolean,
  needsDescription: boolean,
): FieldErrorAt[] {
  const errors: FieldErrorAt[] = [];
  const badName = (name: unknown) =>
    typeof name !== "string" ||
    (strictName
      ? !COMMAND_NAME_PATTERN.test(name) || name !== name.toLowerCase()
      : [...name].length > 32 || name === "");
  if (badName(item.name)) {
    errors.push({
      path: [...path, "name"],
      code: "APPLICATION_COMMAND_INVALID_NAME",
      message: "Command name is invalid",
    });
  }
  if (needsDescription) {
    const length = typeof item.description === "string" ? [...item.description].length : 0;
    if (length < 1 || length > 100) {
      errors.push({
        path: [...path, "description"],
        code: "BASE_TYPE_BAD_LENGTH",
        message: "Must be between 1 and 100 in length.",
      });
    }
  }
  for (const field of ["name_localizations", "description_localizations"] as const) {
    const localized = item[field];
    if (!localized || typeof localized !== "object") continue;
    for (const [locale, value] of Object.entries(localized as Json)) {
      if (!DISCORD_LOCALES.has(locale)) {
        errors.push({
          path: [...path, field, locale],
          code: "BASE_TYPE_CHOICES",
          message: `Value must be one of (${
            [...DISCORD_LOCALES].map((l) => `'${l}'`).join(", ")
          }).`,
        });
      } else if (field === "name_localizations" && badName(value)) {
        errors.push({
          path: [...path, field, locale],
          code: "APPLICATION_COMMAND_INVALID_NAME",
          message: "Command name is invalid",
        });
      }
    }
  }
  return errors;
}
