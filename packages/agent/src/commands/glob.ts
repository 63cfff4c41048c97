import { CustodyError } from "@custody/core";

/**
 * A file-name glob (`*`, `?`, `[abc]`, `[!a-z]`) as an anchored regular expression; it matches one
 * name, never a path, and is compiled without backtracking hazards (each `*` becomes `[^/]*`).
 */
export function globToRegExp(glob: string): RegExp {
  if (glob.length === 0 || glob.length > 255 || glob.includes("/"))
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      "a findfile pattern is one file name (1-255 characters, no /)",
    );
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] as string;
    if (ch === "*") {
      source += "[^/]*";
      while (glob[i + 1] === "*") i++;
    } else if (ch === "?") source += "[^/]";
    else if (ch === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end === -1) {
        source += "\\[";
        continue;
      }
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      source += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else source += ch.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  try {
    return new RegExp(`^${source}$`, "u");
  } catch (cause) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `bad pattern ${glob}`, { cause });
  }
}
