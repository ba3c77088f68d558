import { userForToken, type AuthTokens } from "../../shared/engine/auth.ts";
import { fromBase64 } from "./reply.ts";
import { HttpError } from "./request.ts";

/**
 * Who an HTTP request is. Upstash's forms: `Authorization: Bearer <token>`
 * or `?_token=<token>`, checked here against the deployment's tokens. And,
 * for ACL users (ACL SETUSER), `Authorization: Basic base64(user:password)`:
 * users live in the nodes, so that one is checked by the node (the session
 * starts with AUTH user password).
 */
export type Identity =
  | { readonly kind: "user"; readonly user: string }
  | { readonly kind: "acl"; readonly user: string; readonly password: Uint8Array };

export const UNAUTHORIZED = "WRONGPASS invalid or missing auth token";

export function tokensOf(env: { TIDEKV_TOKEN?: string; TIDEKV_READONLY_TOKEN?: string }): AuthTokens {
  return { token: env.TIDEKV_TOKEN || null, readonlyToken: env.TIDEKV_READONLY_TOKEN || null };
}

/** The token an HTTP request or WebSocket upgrade presents: Authorization Bearer, or a query parameter. */
export function presentedToken(request: Request, url: URL, queryParam: string): string | null {
  const header = request.headers.get("authorization");
  if (header) {
    const match = /^bearer\s+(.*)$/i.exec(header.trim());
    if (match) return match[1].trim();
  }
  return url.searchParams.get(queryParam);
}

export function identify(request: Request, url: URL, tokens: AuthTokens): Identity {
  const header = request.headers.get("authorization")?.trim();
  if (header && /^basic\s+/i.test(header)) {
    const decoded = fromBase64(header.replace(/^basic\s+/i, ""));
    const colon = decoded ? decoded.indexOf(0x3a) : -1;
    if (!decoded || colon < 0) throw new HttpError(401, UNAUTHORIZED);
    return { kind: "acl", user: new TextDecoder().decode(decoded.subarray(0, colon)), password: decoded.subarray(colon + 1) };
  }
  const user = userForToken(tokens, presentedToken(request, url, "_token"));
  if (user === null) throw new HttpError(401, UNAUTHORIZED);
  return { kind: "user", user };
}
