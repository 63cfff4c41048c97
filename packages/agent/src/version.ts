/** Reported in hello and at enrollment. */
export const AGENT_VERSION = "0.1.0";
