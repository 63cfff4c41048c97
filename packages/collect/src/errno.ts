export function errnoOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "EIO";
}

export function codeForErrno(errno: string): string {
  switch (errno) {
    case "ENOENT":
    case "ENOTDIR":
    case "ESRCH":
      return "ERR_NOT_FOUND";
    case "EACCES":
    case "EPERM":
      return "ERR_PERMISSION";
    default:
      return "ERR_IO";
  }
}
