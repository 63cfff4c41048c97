import { CustodyError } from "@custody/core";
import type { ApprovalOutcome } from "@custody/vault";
import type { CommandContext, CommandSpec } from "../command.js";
import { ITEM_OPTIONS, itemSelector, withVaultApi } from "../vault-context.js";
import { printItem } from "./evidence.js";

const one = { min: 1, max: 1 } as const;

function printOutcome(ctx: CommandContext, outcome: ApprovalOutcome): number {
  if (outcome.status === "pending") {
    if (ctx.json) ctx.printJson(outcome);
    else
      ctx.out(
        `approval required: request ${outcome.request.id} waits for the other custodian ` +
          `(custody access approve ${outcome.request.id}), expires ${outcome.request.expiresAt}`,
      );
    return 0;
  }
  if (ctx.json) ctx.printJson(outcome);
  else ctx.out(outcome.message);
  return 0;
}

export const holdCommand: CommandSpec = {
  path: ["hold"],
  summary: "put an item under legal hold (it cannot be deleted until released)",
  usage: "ID [--case ID]",
  options: ITEM_OPTIONS,
  positionals: one,
  async run(ctx) {
    printItem(ctx, await withVaultApi(ctx, (api) => api.hold(itemSelector(ctx))));
    return 0;
  },
};

export const releaseCommand: CommandSpec = {
  path: ["release"],
  summary: "release a legal hold (with two custodians, the other one must approve)",
  usage: "ID [--case ID]",
  options: ITEM_OPTIONS,
  positionals: one,
  async run(ctx) {
    return printOutcome(ctx, await withVaultApi(ctx, (api) => api.release(itemSelector(ctx))));
  },
};

export const retainCommand: CommandSpec = {
  path: ["retain"],
  summary: "extend an item's retention (never shortens it)",
  usage: "ID --until DATE [--case ID]",
  options: { ...ITEM_OPTIONS, until: { type: "string" } },
  positionals: one,
  async run(ctx) {
    const until = ctx.string("until");
    if (until === undefined || !/^\d{4}-\d{2}-\d{2}/.test(until) || Number.isNaN(Date.parse(until))) {
      throw new CustodyError("ERR_USAGE", "retain needs --until DATE (e.g. 2030-12-31)");
    }
    printItem(ctx, await withVaultApi(ctx, (api) => api.extendRetention(itemSelector(ctx), new Date(until))));
    return 0;
  },
};

export const purgeCommand: CommandSpec = {
  path: ["purge"],
  summary: "delete an item after its retention (never under hold; with two custodians, both agree)",
  usage: "ID [--case ID]",
  options: ITEM_OPTIONS,
  positionals: one,
  async run(ctx) {
    return printOutcome(ctx, await withVaultApi(ctx, (api) => api.purge(itemSelector(ctx))));
  },
};
