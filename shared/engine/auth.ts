import type { Server } from "./server.ts";

/**
 * Authentication, as Redis's ACL layer answers it for AUTH, HELLO ... AUTH
 * and CLIENT KILL USER.
 *
 * For now tidekv models exactly one user: Redis's `default` user in its
 * out-of-the-box state, `on nopass ~* &* +@all`. So `AUTH default <anything>`
 * succeeds, any other user name fails with WRONGPASS, and the one-argument
 * `AUTH <password>` form is refused the way Redis refuses it when no password
 * is configured. Every connection starts authenticated.
 *
 * Real credentials (tokens configured on the deployment) will be checked here,
 * and only here: handlers call these functions and never look at passwords
 * themselves.
 */

/** The only user that exists. */
export const DEFAULT_USER = "default";

/** True when `user` with `password` may log in (Redis's ACLAuthenticateUser). */
export function authenticate(server: Server, user: string, password: Uint8Array): boolean {
  void server;
  void password; // the default user is `nopass`: any password matches
  return user === DEFAULT_USER;
}

/**
 * Whether the default user has a password. When it has none, Redis answers the
 * one-argument `AUTH <password>` with an error instead of authenticating.
 */
export function defaultUserHasPassword(server: Server): boolean {
  void server;
  return false;
}

/** Whether a new (or RESET) connection starts authenticated as the default user. */
export function startsAuthenticated(server: Server): boolean {
  return !defaultUserHasPassword(server);
}

/** Whether a user of this name exists (CLIENT KILL USER answers "No such user" otherwise). */
export function userExists(server: Server, user: string): boolean {
  void server;
  return user === DEFAULT_USER;
}
