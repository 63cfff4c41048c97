// Lets a plain `node` child run the workspace's TypeScript sources (Node strips the types): packages
// resolve to their "source" export and the sources' ".js" imports to the ".ts" files next to them.
export async function resolve(specifier, context, next) {
  const conditions = [...new Set([...(context.conditions ?? []), "source"])];
  try {
    return await next(specifier, { ...context, conditions });
  } catch (error) {
    if (error?.code === "ERR_MODULE_NOT_FOUND" && specifier.startsWith(".") && specifier.endsWith(".js")) {
      return next(`${specifier.slice(0, -3)}.ts`, { ...context, conditions });
    }
    throw error;
  }
}
