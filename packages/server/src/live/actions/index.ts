export {
  ActionQueue,
  type ActionQueueLimits,
  type ActionQueueOptions,
  DEFAULT_ACTION_LIMITS,
  type QueueRequest,
} from "./queue.js";
export { actionRoutes, registerActionQueue } from "./routes.js";
export { FINAL_ACTION_STATES, isExpired, isFinal, markRestNotRun, transition } from "./state.js";
export { BATCH_COMMANDS, checkBatchOrder, type PlannedStep, planSteps } from "./steps.js";
