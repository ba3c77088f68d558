/**
 * A command fails by throwing a CommandError whose message is the whole Redis
 * error line ("WRONGTYPE Operation against ..."). The dispatcher turns it into
 * an error reply and rolls back whatever the command had written, so a failed
 * command never leaves a partial write behind.
 */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandError";
  }
}

export const Errors = {
  wrongType: "WRONGTYPE Operation against a key holding the wrong kind of value",
  notInteger: "ERR value is not an integer or out of range",
  notFloat: "ERR value is not a valid float",
  syntax: "ERR syntax error",
  noSuchKey: "ERR no such key",
  overflow: "ERR increment or decrement would overflow",
  incrFloatNanOrInf: "ERR increment would produce NaN or Infinity",
  dbIndexOutOfRange: "ERR DB index is out of range",
  sameObject: "ERR source and destination objects are the same",
  stringTooLong: "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
  hashValueNotInteger: "ERR hash value is not an integer",
  hashValueNotFloat: "ERR hash value is not a float",
  offsetOutOfRange: "ERR offset is out of range",
  noMultiNested: "ERR MULTI calls can not be nested",
  execWithoutMulti: "ERR EXEC without MULTI",
  discardWithoutMulti: "ERR DISCARD without MULTI",
  watchInsideMulti: "ERR WATCH inside MULTI is not allowed",
  execAbort: "EXECABORT Transaction discarded because of previous errors.",
  elementTooLarge: "ERR element exceeds the maximum size a node stores in one row",
} as const;

export const wrongArity = (fullName: string) => `ERR wrong number of arguments for '${fullName}' command`;
export const invalidExpire = (command: string) => `ERR invalid expire time in '${command}' command`;

export function fail(message: string): never {
  throw new CommandError(message);
}
