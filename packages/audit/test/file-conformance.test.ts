import { join } from "node:path";
import { FileAuditSink, FileAuditSource } from "@custody/audit";
import { testAuditSink } from "@custody/audit/conformance";
import { tempDir } from "./fixtures.js";

testAuditSink("file", async () => {
  const temp = await tempDir("conformance");
  const dir = join(temp.dir, "log");
  return {
    openSink: () => FileAuditSink.open(dir),
    source: () => new FileAuditSource(dir),
    cleanup: temp.remove,
  };
});
