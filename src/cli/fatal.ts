// One sentence on stderr and an exit status: how every command reports bad input (never a stack trace).
export function fatal(msg: string, status = 1): never {
  process.stderr.write(`strata: ${msg}\n`);
  process.exit(status);
}
