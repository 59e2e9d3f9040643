/**
 * The slash commands rolepass registers with Discord, as sent to the bulk-overwrite endpoint
 * (`PUT /applications/{id}/commands` or its guild variant) by `deno task commands:register`.
 */
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  InteractionContextType,
  PermissionFlagsBits,
  type RESTPutAPIApplicationCommandsJSONBody,
} from "discord-api-types/v10";
import { ADMIN_SUBCOMMANDS, type AdminOptionName } from "./admin.ts";

/** The name Discord sends back in `data.name` whatever language the member uses. */
export const SUBSCRIBE_COMMAND_NAME = "subscribe";

/** The operators' command; its subcommands are in `_core/admin.ts`. */
export const ADMIN_COMMAND_NAME = "rolepass";

const memberOption = {
  type: ApplicationCommandOptionType.User,
  name: "member",
  name_localizations: { ja: "メンバー" },
  description: "The member to look at",
  description_localizations: { ja: "対象のメンバー" },
  required: true,
} as const;

/** How Discord asks the operator for each option a subcommand takes. */
const ADMIN_OPTIONS = {
  member: memberOption,
  plan: {
    // A plan is picked by its role: Discord offers the server's roles, and rolepass refuses one
    // that belongs to no plan.
    type: ApplicationCommandOptionType.Role,
    name: "plan",
    name_localizations: { ja: "プラン" },
    description: "The plan's role",
    description_localizations: { ja: "プランのロール" },
    required: true,
  },
  until: {
    type: ApplicationCommandOptionType.String,
    name: "until",
    name_localizations: { ja: "期限" },
    description: "Last day, as 2027-01-31 (leave empty: until revoked)",
    description_localizations: { ja: "最終日（例：2027-01-31）。空欄なら取り消すまで" },
    required: false,
    min_length: 10,
    max_length: 10,
  },
} as const satisfies Record<AdminOptionName, unknown>;

/**
 * Every command, in the shape Discord's bulk overwrite takes. Bulk overwrite replaces the whole
 * set, so this list is the single truth about what the application offers.
 */
export const COMMANDS: RESTPutAPIApplicationCommandsJSONBody = [
  {
    type: ApplicationCommandType.ChatInput,
    name: SUBSCRIBE_COMMAND_NAME,
    // Japanese has no letter case, so a katakana name satisfies Discord's lowercase rule.
    name_localizations: { ja: "サブスク" },
    description: "Get a private link to subscribe to this server's paid role, or to manage it",
    description_localizations: {
      ja:
        "このサーバーの有料ロールに登録する、または登録内容を管理するための専用リンクを受け取ります",
    },
    integration_types: [ApplicationIntegrationType.GuildInstall],
    // Offered in the bot's DMs too, so a member who tries there gets told where it works instead
    // of a silent "unknown command".
    contexts: [InteractionContextType.Guild, InteractionContextType.BotDM],
  },
  {
    type: ApplicationCommandType.ChatInput,
    name: ADMIN_COMMAND_NAME,
    description: "Operator console: members, failures and repairs (visible only to you)",
    description_localizations: {
      ja: "運営者用コンソール：メンバー、失敗、修復（あなたにだけ表示されます）",
    },
    // Hidden from members without Manage Server. Server admins can override this per role or
    // channel, so the interactions endpoint checks the member's permissions on every request too.
    default_member_permissions: String(PermissionFlagsBits.ManageGuild),
    integration_types: [ApplicationIntegrationType.GuildInstall],
    contexts: [InteractionContextType.Guild],
    options: ADMIN_SUBCOMMANDS.map((subcommand) => ({
      type: ApplicationCommandOptionType.Subcommand,
      name: subcommand.name,
      name_localizations: { ja: subcommand.ja },
      description: subcommand.description.en,
      description_localizations: { ja: subcommand.description.ja },
      ...(subcommand.options.length > 0
        ? { options: subcommand.options.map((name) => ADMIN_OPTIONS[name]) }
        : {}),
    })),
  },
];
