/** The public API of the RESP layer: the reply model, the encoder and both parsers. */
export * from "./reply.ts";
export { ReplyWriter, encodeReply, encodeCommand } from "./encode.ts";
export { RequestParser, ProtocolError, splitArgs, type RequestLimits } from "./request-parser.ts";
export { ReplyParser } from "./reply-parser.ts";
