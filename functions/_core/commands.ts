/**
 * The slash commands rolepass registers with Discord, as sent to the bulk-overwrite endpoint
 * (`PUT /applications/{id}/commands` or its guild variant) by `deno task commands:register`.
 */
import {
  ApplicationCommandType,
  ApplicationIntegrationType,
  InteractionContextType,
  type RESTPutAPIApplicationCommandsJSONBody,
} from "discord-api-types/v10";

/** The name Discord sends back in `data.name` whatever language the member uses. */
export const SUBSCRIBE_COMMAND_NAME = "subscribe";

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
];
