/**
 * Reply shapes of sorted-set commands. Scores travel as Redis's addReplyDouble
 * sends them: a bulk string ("%.17g", "inf", "-inf") in RESP2 and a RESP3
 * double. Member/score pairs are flat in RESP2 and [member, score] arrays in
 * RESP3 (ZRANGE WITHSCORES, ZPOPMIN with COUNT, ZUNION WITHSCORES, ...).
 */
import { array, bulk, double, type Reply } from "../../resp/reply.ts";
import type { Entry } from "./store.ts";

/** Collects members (and scores) into the reply shape of the client's protocol. */
export class EntryReplies {
  readonly items: Reply[] = [];

  constructor(
    private readonly withScores: boolean,
    private readonly nested: boolean,
  ) {}

  add(entry: Entry): void {
    const member = bulk(entry.member);
    if (!this.withScores) this.items.push(member);
    else if (this.nested) this.items.push(array([member, double(entry.score)]));
    else this.items.push(member, double(entry.score));
  }

  reply(): Reply {
    return array(this.items);
  }
}

/** Pairs nest in RESP3 (ZRANGE WITHSCORES and friends), are flat in RESP2. */
export const nestedPairs = (protocol: 2 | 3): boolean => protocol === 3;
