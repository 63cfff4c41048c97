import * as alerts from "@custody/alerts";
import { describe, expect, it } from "vitest";

describe("@custody/alerts public surface", () => {
  it("exports exactly the documented values", () => {
    expect(Object.keys(alerts).sort()).toEqual([
      "ALERT_CONFIG_FORMAT",
      "ALERT_FORMAT",
      "ALERT_SEVERITIES",
      "DEFAULT_RULES",
      "MAX_CONFIG_BYTES",
      "MAX_SYSLOG_MESSAGE_BYTES",
      "SIGNATURE_HEADER",
      "SYSLOG_APP_NAME",
      "SYSLOG_SD_ID",
      "alertConfigSchema",
      "alertJsonSchemas",
      "alertRuleSchema",
      "alertSchema",
      "createAlertEngine",
      "createConfiguredSinks",
      "createLogSink",
      "createSyslogSink",
      "createWebhookSink",
      "formatSyslogMessage",
      "frameSyslogMessage",
      "loadAlertConfig",
      "matcherSchema",
      "signWebhookBody",
      "verifyWebhookSignature",
    ]);
  });

  it("the default rules are valid rules and frozen", () => {
    for (const rule of alerts.DEFAULT_RULES) expect(alerts.alertRuleSchema.parse(rule)).toEqual(rule);
    expect(Object.isFrozen(alerts.DEFAULT_RULES)).toBe(true);
    expect(alerts.SIGNATURE_HEADER).toBe("x-custody-signature");
  });
});
