// One sentence on stderr and exit 1: how every command reports bad input (never a stack trace).
export function fatal(msg: string): never {
  process.stderr.write(`strata: ${msg}\n`);
  process.exit(1);
}
