export type { Alert, AlertRecordRef, AlertSeverity } from "./alert.js";
export { ALERT_FORMAT, ALERT_SEVERITIES } from "./alert.js";
export { alertSchema } from "./alert-schema.js";
export type { AlertConfig } from "./config.js";
export {
  ALERT_CONFIG_FORMAT,
  alertConfigSchema,
  createConfiguredSinks,
  loadAlertConfig,
  MAX_CONFIG_BYTES,
} from "./config.js";
export { DEFAULT_RULES } from "./default-rules.js";
export type { AlertEngine, AlertEngineOptions, AlertEngineStats, AlertRuleInput } from "./engine.js";
export { createAlertEngine } from "./engine.js";
export { alertJsonSchemas } from "./json-schema.js";
export { createLogSink } from "./log-sink.js";
export type { AlertMatcher, AlertRule, BurstRule, MatchRule } from "./rule-schema.js";
export { alertRuleSchema, matcherSchema } from "./rule-schema.js";
export type { VerifyWebhookOptions, WebhookSecret } from "./signature.js";
export { SIGNATURE_HEADER, signWebhookBody, verifyWebhookSignature } from "./signature.js";
export type { AlertSink, SinkStats } from "./sink.js";
export type { SyslogSinkOptions } from "./syslog.js";
export { createSyslogSink } from "./syslog.js";
export {
  formatSyslogMessage,
  frameSyslogMessage,
  MAX_SYSLOG_MESSAGE_BYTES,
  SYSLOG_APP_NAME,
  SYSLOG_SD_ID,
} from "./syslog-format.js";
export type { WebhookSinkOptions } from "./webhook.js";
export { createWebhookSink } from "./webhook.js";
