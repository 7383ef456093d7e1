// The registry commands, named and shaped as docker's: pull, push, login, logout, search. Their
// work is in registry-actions.ts, loaded only when one runs.
import { Command } from 'commander';

const actions = () => import('./registry-actions.js');

/** The TLS options every registry command takes. */
function tlsOptions(c: Command): Command {
  return c
    .option('--tls-verify <bool>', 'false: skip certificate checks and allow plain http (an insecure registry)', (v) => v !== 'false')
    .option('--cert-dir <dir>', 'a dir of CA certificates (*.crt) to trust for this registry');
}

export function registryCommands(): Command[] {
  const pull = tlsOptions(
    new Command('pull')
      .description('download an image from a registry ([HOST[:PORT]/]NAME[:TAG|@DIGEST]; busybox is docker.io/library/busybox:latest)')
      .argument('<ref>')
      .option('-a, --all-tags', 'every tag of the repository')
      .option('--platform <os/arch[/variant]>', 'which image of a multi-platform index (default: this host)')
      .option('-q, --quiet', 'print only the reference')
      .option('--max-concurrent-downloads <n>', 'layers downloaded at once', (v) => Number(v), 3),
  ).action(async (ref: string, o) => (await actions()).pull(ref, o));
  const push = tlsOptions(
    new Command('push')
      .description('upload an image to a registry (tag it HOST[:PORT]/NAME[:TAG] first)')
      .argument('<ref>')
      .option('-q, --quiet', 'print only the digest line')
      .option('--max-concurrent-uploads <n>', 'layers uploaded at once', (v) => Number(v), 3),
  ).action(async (ref: string, o) => (await actions()).push(ref, o));
  const login = tlsOptions(
    new Command('login')
      .description("check a credential against a registry and keep it (docker's config.json, or its credential helper)")
      .argument('[server]', 'HOST[:PORT] (default: Docker Hub)')
      .option('-u, --username <user>')
      .option('-p, --password <password>', 'insecure: prefer --password-stdin')
      .option('--password-stdin', 'read the password from stdin'),
  ).action(async (server: string | undefined, o) => (await actions()).login(server, o));
  const logout = new Command('logout')
    .description('forget the credential of a registry')
    .argument('[server]', 'HOST[:PORT] (default: Docker Hub)')
    .action(async (server: string | undefined) => (await actions()).logout(server));
  const search = tlsOptions(
    new Command('search')
      .description("repositories of a registry's catalog matching a term (HOST/TERM), or the tags of one (--list-tags HOST/REPO)")
      .argument('<query>')
      .option('--limit <n>', 'at most this many results', (v) => Number(v), 25)
      .option('--format <fmt>', 'json for machine-readable output')
      .option('--list-tags', 'list the tags of HOST/REPO'),
  ).action(async (q: string, o) => (await actions()).search(q, o));
  return [pull, push, login, logout, search];
}
