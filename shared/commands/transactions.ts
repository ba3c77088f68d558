import { error, OK } from "../resp/reply.ts";
import { Errors } from "../engine/errors.ts";
import type { HandlerTable } from "./spec.ts";

/** MULTI, EXEC, DISCARD, WATCH, UNWATCH. EXEC itself runs in the dispatcher (Server.exec). */
export const transactionCommands: HandlerTable = {
  multi: (call) => {
    if (call.client.multi) return error(Errors.noMultiNested);
    call.client.multi = { queue: [], aborted: false };
    return OK;
  },
  exec: () => error(Errors.execWithoutMulti), // reached only through Server.exec's checks
  discard: (call) => {
    if (!call.client.multi) return error(Errors.discardWithoutMulti);
    call.client.multi = null;
    call.server.unwatchAll(call.client);
    return OK;
  },
  watch: (call) => {
    if (call.client.multi) return error(Errors.watchInsideMulti);
    for (let i = 1; i < call.argv.length; i++) call.server.watch(call.client, call.db, call.argv[i]);
    return OK;
  },
  unwatch: (call) => {
    call.server.unwatchAll(call.client);
    return OK;
  },
};
