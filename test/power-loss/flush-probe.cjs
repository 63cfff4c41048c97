// Writes what the volatile filesystem must keep (flushed) and lose (not flushed) at a power cut, says
// "done", then waits to be killed.
const fs = require("node:fs");
const { join } = require("node:path");

const dir = process.argv[2];
function put(name, text, sync) {
  const fd = fs.openSync(join(dir, name), "w");
  fs.writeSync(fd, text);
  if (sync) fs.fsyncSync(fd);
  fs.closeSync(fd);
}
put("synced", "kept", true);
put("unsynced", "lost", false);
const folder = fs.openSync(dir, "r");
fs.fsyncSync(folder);
fs.closeSync(folder);
put("late", "its entry is never flushed", true);
fs.appendFileSync(join(dir, "synced"), " and more");
process.stdout.write("done\n");
setInterval(() => {}, 1000);
