import { DefaultAzureCredential } from "@azure/identity";
import type { TokenCredential } from "./options.js";

/**
 * DefaultAzureCredential: environment (client secret or certificate), workload identity, managed
 * identity, then developer logins. Offered here so that callers never import @azure/* themselves.
 */
export function defaultAzureCredential(): TokenCredential {
  return new DefaultAzureCredential();
}
