import { LOCAL, vaultScenario } from "./cli-vault-scenario.js";

// The end-to-end vault scenario on a local vault; cli-vault-server.test.ts runs it through a server.
vaultScenario(LOCAL);
