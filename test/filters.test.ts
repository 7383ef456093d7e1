// `images -f` and `ps -f` (issue 11), in process on a real store: docker's keys and rules (one
// key twice: either value, labels: both; different keys: all), and a sentence for a bad filter.
import t from 'tap';
import { tmpdir } from './helpers/mount.js';
import { storeWithBusybox } from './helpers/store.js';
import { filterImages, globMatch, parseFilters, IMAGE_FILTERS } from '../src/image/filters.js';
import { listImages } from '../src/image/list.js';
import { importImage } from '../src/image/import.js';
import { Containers } from '../src/container/service.js';
import { StrataError } from '../src/sys/errors.js';

t.setTimeout(120_000);
const base = tmpdir(t, 'strata-filters-');
const { s } = await storeWithBusybox(t, base, 'busybox', { Cmd: ['/bin/sh'], Labels: { team: 'a', tier: 'db' } });
await new Promise((r) => setTimeout(r, 20)); // distinct creation times for before/since
const later = await importImage(s, `${base}/busybox.tar`, { tag: 'registry.local/x/y:1', change: ['CMD ["true"]'] });
await new Promise((r) => setTimeout(r, 20));
const loose = await importImage(s, `${base}/busybox.tar`, { change: ['CMD ["false"]'] }); // no tag: dangling

const names = (f: string[]) =>
  filterImages(s, listImages(s), parseFilters(f, IMAGE_FILTERS))
    .map((r) => (r.repo === '<none>' ? r.id : `${r.repo}:${r.tag}`))
    .sort();
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof StrataError ? `${err.code}: ${err.message}` : `other: ${err}`;
  }
  return 'none';
};

t.test('images -f', async (t) => {
  t.same(names([]), [loose.id, 'busybox:latest', 'registry.local/x/y:1'].sort(), 'no filter: everything');
  t.same(names(['dangling=true']), [loose.id], 'dangling=true: the untagged image');
  t.same(names(['dangling=false']), ['busybox:latest', 'registry.local/x/y:1'], 'dangling=false: the tagged ones');
  t.same(names(['reference=busy*']), ['busybox:latest'], 'reference, a glob on the name');
  t.same(names(['reference=*']), ['busybox:latest'], '* does not cross a /');
  t.same(names(['reference=registry.local/*/y:1']), ['registry.local/x/y:1'], 'a glob on name:tag');
  t.same(names(['reference=busybox', 'reference=registry.local/x/y']), ['busybox:latest', 'registry.local/x/y:1'], 'one key twice: either');
  t.same(names(['label=team']), ['busybox:latest'], 'label=KEY: has it');
  t.same(names(['label=team=a', 'label=tier=db']), ['busybox:latest'], 'two labels: both must match');
  t.same(names(['label=team=a', 'label=tier=web']), [], '(so one missing is none)');
  t.same(names(['since=busybox']), [loose.id, 'registry.local/x/y:1'].sort(), 'since: made after it');
  t.same(names(['before=registry.local/x/y:1']), ['busybox:latest'], 'before: made before it');
  t.same(names(['since=busybox', 'dangling=false']), ['registry.local/x/y:1'], 'different keys: all');
  t.ok(later.id !== loose.id);
});

t.test('a bad filter is one sentence', async (t) => {
  t.match(
    codeOf(() => names(['colour=red'])),
    /^invalid: invalid filter 'colour' \(known: dangling, reference/,
  );
  t.match(
    codeOf(() => names(['dangling'])),
    /^invalid: bad format of filter "dangling"/,
  );
  t.match(
    codeOf(() => names(['dangling=maybe'])),
    /^invalid: invalid filter 'dangling=maybe'/,
  );
  t.match(
    codeOf(() => names(['since=nosuch'])),
    /^not-found: /,
  );
});

t.test('globs', async (t) => {
  t.ok(globMatch('a?c', 'abc'));
  t.notOk(globMatch('a?c', 'a/c'));
  t.ok(globMatch('lib.*', 'lib.x'), 'a dot is a dot');
  t.notOk(globMatch('lib.*', 'libxx'));
});

t.test('ps -f', async (t) => {
  const k = new Containers(s);
  k.create('busybox', [], { name: 'web' });
  const job = k.create('registry.local/x/y:1', [], { name: 'job' });
  s.updateContainer(job.id, (c) => ({ ...c, state: 'exited', exitCode: 0 }));
  const ps = (f: string[], all = false) =>
    k
      .list({ all, filters: f })
      .map((r) => r.c.name)
      .sort();
  t.same(ps([], true), ['job', 'web'], 'ps -a: both');
  t.same(ps([]), [], 'ps: none runs');
  t.same(ps(['status=created']), ['web'], 'status=created, without -a too (as docker)');
  t.same(ps(['status=exited']), ['job'], 'status=exited');
  t.same(ps(['status=exited', 'status=created']), ['job', 'web'], 'one key twice: either');
  t.same(ps(['name=^w'], true), ['web'], 'name, a regular expression');
  const child = k.commit('web', { repo: 'child:1' });
  k.create('child:1', [], { name: 'kid' });
  t.same(ps(['ancestor=busybox'], true), ['kid', 'web'], 'ancestor: the image, or one committed on it');
  t.same(ps(['ancestor=registry.local/x/y:1'], true), ['job'], 'an import of the same tar is not built on it');
  t.same(ps([`ancestor=${child.id}`], true), ['kid'], 'by ID too');
  k.remove('kid');
  t.same(ps(['ancestor=busybox', 'status=created', 'name=^w']), ['web'], 'different keys: all');
  t.match(
    codeOf(() => ps(['status=sleeping'])),
    /^invalid: invalid filter 'status=sleeping'/,
  );
  t.match(
    codeOf(() => ps(['nope=1'])),
    /^invalid: invalid filter 'nope'/,
  );
  k.remove('web');
  k.remove('job');
});
