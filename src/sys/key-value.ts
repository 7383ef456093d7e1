// KEY=VALUE, as environment lists, build args and labels write it: the key ends at the first '='.

/** [key, value]; the value is undefined when there is no '=' at all (`-e NAME`, `--build-arg NAME`). */
export function splitKeyValue(kv: string): [string, string | undefined] {
  const eq = kv.indexOf('=');
  return eq < 0 ? [kv, undefined] : [kv.slice(0, eq), kv.slice(eq + 1)];
}

/** An environment list (["A=1", "B=2"]) as a map, in order. */
export function envMap(env: readonly string[] = []): Map<string, string> {
  return new Map(env.map((e) => splitKeyValue(e)).map(([k, v]) => [k, v ?? ''] as [string, string]));
}

/** The list with KEY set to VALUE: a replaced key moves to the end, as `docker run -e` and `commit -c ENV` do. */
export function withEnv(env: readonly string[], key: string, value: string): string[] {
  return [...env.filter((e) => splitKeyValue(e)[0] !== key), `${key}=${value}`];
}
