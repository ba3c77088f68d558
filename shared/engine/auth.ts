import type { Client } from "./client.ts";
import type { Guard, Server } from "./server.ts";
import { aclOf, constantTimeEqual, DEFAULT_USER, READONLY_USER, type AuthTokens } from "./acl.ts";

/**
 * Authentication, as Redis's ACL layer answers it for AUTH, HELLO ... AUTH,
 * CLIENT KILL USER, and the NOAUTH / NOPERM checks before every command.
 *
 * Credentials: the deployment's tokens (TIDEKV_TOKEN: full access as the
 * `default` user; TIDEKV_READONLY_TOKEN: read-only as `default_ro`) and the
 * ACL users of ACL SETUSER (shared/engine/acl.ts). With no token configured
 * the default user is `nopass` and every connection starts authenticated, as
 * an out-of-the-box Redis. Handlers call these functions and never look at
 * passwords themselves.
 */

export { DEFAULT_USER, READONLY_USER, type AuthTokens } from "./acl.ts";

const encoder = new TextEncoder();

export const NOAUTH = "NOAUTH Authentication required.";
export const WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled.";

/** Gives a node the deployment's tokens (the host reads them from its environment). */
export function configureTokens(server: Server, tokens: AuthTokens): void {
  aclOf(server).configure(tokens);
}

/**
 * Who `user` with `password` logs in as (Redis's ACLAuthenticateUser), or
 * null. Usually `user` itself; the read-only token logs in as `default_ro`
 * whether presented for `default` or for `default_ro`.
 */
export function authenticate(server: Server, user: string, password: Uint8Array): string | null {
  return aclOf(server).authenticate(user, password);
}

/**
 * Whether the default user has a password. When it has none, Redis answers the
 * one-argument `AUTH <password>` with an error instead of authenticating.
 */
export function defaultUserHasPassword(server: Server): boolean {
  return aclOf(server).authRequired;
}

/** Whether a new (or RESET) connection starts authenticated as the default user. */
export function startsAuthenticated(server: Server): boolean {
  return !aclOf(server).authRequired;
}

/** Whether a user of this name exists (CLIENT KILL USER answers "No such user" otherwise). */
export function userExists(server: Server, user: string): boolean {
  return aclOf(server).get(user) !== undefined;
}

/** Marks a connection as authenticated as `user` (a connection the worker already authenticated). */
export function preAuthenticate(client: Client, user: string): void {
  client.user = user;
  client.authenticated = true;
}

/**
 * For front ends that see a token before any node does (the HTTP API, the
 * /resp proxy, WebSocket upgrades): which built-in user `presented` logs in
 * as, comparing in constant time. With no token configured everyone is
 * `default`; otherwise a missing or wrong token is null.
 */
export function userForToken(tokens: AuthTokens, presented: string | null | undefined): string | null {
  const token = tokens.token || null;
  const readonlyToken = tokens.readonlyToken || null;
  if (token === null && readonlyToken === null) return DEFAULT_USER;
  if (presented == null || presented === "") return null;
  const bytes = encoder.encode(presented);
  const full = token !== null && constantTimeEqual(encoder.encode(token), bytes);
  const ro = readonlyToken !== null && constantTimeEqual(encoder.encode(readonlyToken), bytes);
  return full ? DEFAULT_USER : ro ? READONLY_USER : null;
}

/** Whether a deployment with these tokens requires authentication at all. */
export function authRequired(tokens: AuthTokens): boolean {
  return Boolean(tokens.token || tokens.readonlyToken);
}

/**
 * The NOAUTH and NOPERM checks of Redis's processCommand, in its order: a
 * command that needs no authentication (AUTH, HELLO, QUIT, RESET) always
 * runs; otherwise the client must be authenticated, its user must be allowed
 * to run the command, and to touch each of its keys.
 */
export function authGuard(server: Server): Guard {
  const acl = aclOf(server);
  return (client, command, argv) => {
    if (command.noAuth || (command.parent?.noAuth ?? false)) return null;
    if (!client.authenticated) return NOAUTH;
    const user = acl.get(client.user);
    if (user && user.allCommands && user.rules.length === 0 && user.allKeys) return null;
    if (!user || !user.canRun(command)) {
      return `NOPERM this user has no permissions to run the '${command.fullName}' command`;
    }
    if (!user.canAccessKeys(command, argv)) return "NOPERM this user has no permissions to access one of the keys used as arguments";
    return null;
  };
}
