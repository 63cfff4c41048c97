import { ROUTES as API, type ResponseOf } from "@custody/api";
import { api } from "./api.ts";

export type WhoAmI = ResponseOf<typeof API.whoami>;

/** The signed-in principal, fetched once for every page (the header shows it). */
export const signedIn = $state<{ who: WhoAmI | undefined }>({ who: undefined });

let pending: Promise<WhoAmI> | undefined;

export function whoami(): Promise<WhoAmI> {
  pending ??= api.call(API.whoami).then((who) => {
    signedIn.who = who;
    return who;
  });
  pending.catch(() => (pending = undefined));
  return pending;
}

/** Whether the principal holds a role (in any scope): pages use it to offer, the API still decides. */
export function hasRole(who: WhoAmI | undefined, role: string): boolean {
  return who?.grants.some((g) => g.role === role) === true;
}
