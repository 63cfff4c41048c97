import type { CommandTier } from "./registry.js";

/** What the device's owner allows, whatever the server asks: read from a root-owned file at start. */
export interface AgentPolicy {
  format: "custody.agent.policy/v1";
  /** Command tiers the agent runs; a tier not listed true is refused with ERR_AGENT_POLICY. */
  tiers: Record<CommandTier, boolean>;
  paths: {
    /** Absolute paths (and everything under them) the agent never reads, lists or sends. */
    deny: string[];
  };
  /** Largest file getfile sends. */
  maxGetfileBytes: number;
  /**
   * `run` of an unsigned library script: refused unless this is true AND the server's command says the
   * vault allows unsigned scripts. Absent: refused. A signed script is verified whatever this says.
   */
  unsignedScripts?: boolean | undefined;
  /** YARA rules `analyze` scans with (a file, or a folder of *.yar/*.yara), where the tool is installed. */
  yaraRules?: string;
  /** remediate/undo: where the system's configuration lives, and paths never removed or rewritten. */
  remediation?: RemediationPolicy | undefined;
}

export interface RemediationPolicy {
  /** Unit files, cron and autostart entries are looked up under this root ("/" unless a test says otherwise). */
  systemRoot?: string | undefined;
  /** Absolute paths (and everything under them) remediation never deletes or rewrites; a default list when absent. */
  protect?: string[] | undefined;
}
