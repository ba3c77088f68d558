import { error, OK } from "../resp/reply.ts";
import { subcommandSyntaxError } from "../engine/command-docs.ts";
import type { HandlerTable } from "./spec.ts";

/** Scripting: FUNCTION FLUSH only, for now. */
export const scriptingCommands: HandlerTable = {
  function: {
    subcommands: {
      /**
       * FUNCTION FLUSH [ASYNC|SYNC]. There are no function libraries yet, so
       * there is nothing to delete; like Redis it still counts as a change and
       * is replicated, so replicas stay in step once functions exist.
       */
      flush: (call) => {
        if (call.argv.length > 3) return subcommandSyntaxError(call.argv);
        if (call.argv.length === 3) {
          const mode = call.option(2);
          if (mode !== "sync" && mode !== "async") return error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        }
        call.dirty++;
        return OK;
      },
    },
  },
};
