// Creates an access policy store in the folder given (on the volatile filesystem), then applies grants
// until killed, printing "version principal" once each is acknowledged.
import { AccessPolicyStore } from "@custody/access";

const [dir] = process.argv.slice(2);
const store = await AccessPolicyStore.init(dir, "alice");
for (let i = 0; ; i += 1) {
  const principal = `p${i}`;
  const change = { kind: "grant", principal, role: "analyst", scope: "case:A" };
  const { version } = await store.apply(change, { id: "alice", kind: "person" });
  process.stdout.write(`${version} ${principal}\n`);
}
